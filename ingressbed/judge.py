"""The one judge: every expectation, whatever wrote it, against a run's evidence.

``Judge(evidence).verdict(expectation)`` gives a ``Verdict``; ``judge_all`` judges the
expectations that apply to the evidence's data plane. Scenario files, catalog
candidates (scenario files too) and the e2e helpers (``ingressbed.expect``) all come
here. Missing evidence never passes: no answer, no pod, no ``X-Cache-Status``, no
prediction, a property not measured, each is a failing verdict that says what was
missing.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Mapping, Sequence

from ingressbed import judge_answers as answers
from ingressbed import judge_figures as checks
from ingressbed import judge_headers as headers
from ingressbed.balancing import Balancing
from ingressbed.errors import ConfigError
from ingressbed.evidence import Evidence
from ingressbed.expectations import (
    AnsweredExpect,
    CacheExpect,
    CookieExpect,
    Expectation,
    HeaderExpect,
    PicksExpect,
    PodsExpect,
    PropertyExpect,
    SpreadExpect,
    StatusExpect,
)
from ingressbed.model import Model
from ingressbed.odds import Odds, odds
from ingressbed.properties import Properties, Traffic
from ingressbed.traffic import HTTP_ROUTES, PAGE_ROUTE
from ingressbed.verdict import Verdict
from ingressbed.vocabulary import Endpoint, Setup

__all__ = ["Judge", "Verdict", "judge", "judge_all"]


class Judge:
    """Judges expectations on one run's evidence.

    The placement model (the data plane's translation of the setup on the bed's endpoints)
    is built once per run; each mix reuses it unless its endpoints differ, and its odds and
    properties are computed once.
    """

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self._odds: dict[str, Odds | None] = {}
        self._properties: dict[str, Properties] = {}
        self._moment_models: dict[str, Model | None] = {}

    @functools.cached_property
    def model(self) -> Model | None:
        """The data plane's translation of the setup on the bed's endpoints, if known."""
        ev = self.evidence
        if ev.setup is None or not ev.plane or not ev.endpoints:
            return None
        try:
            return Model.of(ev.plane, ev.setup, ev.endpoints)
        except ConfigError:
            return None  # a setup this plane cannot express was never served

    def _model_at(self, step: str) -> Model | None:
        """The model of what the bed served while ``step`` ran (after a live edit: then)."""
        moment = self.evidence.moments.get(step)
        if moment is None:
            return self.model
        if step not in self._moment_models:
            model = None
            if self.evidence.plane and moment.endpoints:
                try:
                    model = Model.of(self.evidence.plane, moment.setup, moment.endpoints)
                except ConfigError:
                    model = None
            self._moment_models[step] = model
        return self._moment_models[step]

    def _model_on(
        self, endpoints: Mapping[int, Sequence[Endpoint]], setup: Setup | None = None
    ) -> Model | None:
        """The run's model on ``endpoints`` (itself when they are the run's); of ``setup``
        when it is not the run's first (a mix after a live edit)."""
        ev = self.evidence
        if setup is not None and setup != ev.setup:
            if not ev.plane or not endpoints:
                return None
            try:
                return Model.of(ev.plane, setup, endpoints)
            except ConfigError:
                return None
        model = self.model
        if model is None:
            return None
        if {p: tuple(e) for p, e in endpoints.items()} == model.endpoints:
            return model
        return Model(model.balance, endpoints)

    def _mix(self, name: str) -> tuple[Properties, Odds | None]:
        ev = self.evidence
        if name not in self._properties:
            assert ev.setup is not None
            traffic: Traffic = ev.mixes[name]
            moment = ev.moments.get(name)
            setup = moment.setup if moment is not None else ev.setup
            balancing = Balancing.of(setup)
            routes = {r.path: r.service_port for r in setup.ingress.routes}
            model = self._model_on(traffic.endpoints, setup)
            after = None
            if model is not None and traffic.scaled_endpoints is not None:
                after = Model(model.balance, {routes[PAGE_ROUTE]: traffic.scaled_endpoints})
            self._properties[name] = Properties(balancing, routes, traffic, model, after)
            self._odds[name] = None
            # A route without peers (KeyError) has no odds to compute.
            with contextlib.suppress(KeyError, ZeroDivisionError):
                if model is not None:
                    self._odds[name] = odds(
                        balancing,
                        model,
                        routes,
                        visits=traffic.visits_per_route,
                        http_routes=HTTP_ROUTES,
                        page_route=PAGE_ROUTE,
                        scaled=after,
                    )
        return self._properties[name], self._odds[name]

    def _property(self, e: PropertyExpect) -> Verdict:
        ev = self.evidence
        if e.step not in ev.mixes:
            return checks.missing(e, f"no mix step {e.step!r} was run")
        if ev.setup is None or not ev.plane:
            return checks.missing(e, "the run does not say what the bed served")
        props, run_odds = self._mix(e.step)
        return checks.check(e, props.figure(e.kind), run_odds)

    def verdict(self, e: Expectation) -> Verdict:
        """Judge one expectation."""
        ev = self.evidence
        if isinstance(e, PropertyExpect):
            return self._property(e)
        observations = ev.of(e.steps)
        if isinstance(e, PodsExpect):
            return answers.pods(e, observations)
        if isinstance(e, CacheExpect):
            return answers.cache(e, observations)
        if isinstance(e, StatusExpect):
            return answers.status(e, observations)
        if isinstance(e, AnsweredExpect):
            return answers.answered(e, observations)
        if isinstance(e, SpreadExpect):
            return answers.spread(e, observations, ev.pods)
        if isinstance(e, HeaderExpect):
            return headers.header(e, observations)
        if isinstance(e, CookieExpect):
            return headers.cookie(e, observations)
        assert isinstance(e, PicksExpect)
        models = {step: self._model_at(step) for step in e.steps}
        return answers.picks(e, observations, models)


def judge(expectation: Expectation, evidence: Evidence) -> Verdict:
    """Judge one expectation on ``evidence``."""
    return Judge(evidence).verdict(expectation)


def judge_all(expectations: Iterable[Expectation], evidence: Evidence) -> tuple[Verdict, ...]:
    """Judge every expectation that applies to ``evidence.plane`` (and its controller
    ``evidence.version``), in order."""
    one = Judge(evidence)
    return tuple(
        one.verdict(e) for e in expectations if e.applies_to(evidence.plane, evidence.version)
    )
