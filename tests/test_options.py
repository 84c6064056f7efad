"""The one option table: flags, variables, defaults, and one-line errors naming the source."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from ingressbed.errors import ConfigError
from ingressbed.options import OPTIONS, BedOptions, add_cli_arguments, from_args, resolve

pytest_plugins = ["pytester"]


def test_a_flag_wins_over_its_variable_which_wins_over_the_default():
    env = {"INGRESSBED_BACKEND": "kind", "INGRESSBED_KEEP": "always"}
    options = resolve({"backend": "local"}, env)
    assert (options.backend, options.keep, options.cluster_name) == (
        "local",
        "always",
        "ingressbed",
    )


@pytest.mark.parametrize(
    ("given", "env", "message"),
    [
        (
            {},
            {"INGRESSBED_BACKEND": "kinde"},
            "INGRESSBED_BACKEND='kinde': not one of auto, local, kind, cluster, fake"
            " (did you mean 'kind'?)",
        ),
        ({"keep": "sometimes"}, {}, "--keep 'sometimes': not one of never, on-failure, always"),
        ({}, {"INGRESSBED_KEEP_RUNS": "0"}, "INGRESSBED_KEEP_RUNS='0': must be 1 or more"),
        ({}, {"INGRESSBED_KEEP_RUNS": "ten"}, "INGRESSBED_KEEP_RUNS='ten': not a whole number"),
        ({}, {"INGRESSBED_QUIET": "maybe"}, "INGRESSBED_QUIET='maybe': not a yes/no value"),
    ],
)
def test_a_bad_value_is_one_line_naming_where_it_came_from(given, env, message):
    with pytest.raises(ConfigError) as info:
        resolve(given, env)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_options_are_frozen_and_changed_only_by_copy():
    options = BedOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.keep = "always"  # type: ignore[misc]
    assert options.but(keep="always").keep == "always"
    with pytest.raises(ConfigError, match="keep 'x'"):
        options.but(keep="x")


def test_every_option_has_a_flag_a_variable_and_help():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    for option in OPTIONS:
        assert option.flag.startswith("--") and option.env.startswith("INGRESSBED_")
        assert option.help and option.faces


def test_cli_arguments_come_from_the_table():
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser, "repro")
    args = parser.parse_args(["--backend", "local", "--keep", "always", "-q"])
    options = from_args(args, "repro")
    assert (options.backend, options.keep, options.quiet) == ("local", "always", True)
    assert "INGRESSBED_KEEP_RUNS" in parser.format_help()


BAD_VARIABLE_TEST = """
def test_one(): pass
def test_two(): pass
"""


@pytest.mark.parametrize(
    ("variable", "value"), [("INGRESSBED_BACKEND", "kinde"), ("INGRESSBED_KEEP", "sometimes")]
)
def test_pytest_stops_at_start_up_with_one_line_for_a_bad_variable(
    pytester, monkeypatch, variable, value
):
    monkeypatch.setenv(variable, value)
    pytester.makepyfile(BAD_VARIABLE_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if variable in line]
    assert lines == [f"ERROR: ingressbed: {variable}={value!r}: " + lines[0].split(": ", 3)[3]]


def test_the_data_plane_defaults_to_ingress_nginx_and_takes_the_local_planes():
    assert BedOptions().data_plane == "ingress-nginx"
    options = resolve({"backend": "local"}, {"INGRESSBED_DATA_PLANE": "haproxy:pod-ids"})
    assert options.data_plane == "haproxy:pod-ids"
    assert resolve({"data_plane": "nginx:ip-hash"}, {}).backend == "auto"  # auto may be local


@pytest.mark.parametrize(
    ("given", "env", "message"),
    [
        ({"backend": "kind", "data_plane": "haproxy"}, {}, "--data-plane 'haproxy': the kind"),
        (
            {"backend": "cluster"},
            {"INGRESSBED_DATA_PLANE": "nginx:hash"},
            "INGRESSBED_DATA_PLANE='nginx:hash': the cluster backend runs ingress-nginx",
        ),
        ({"data_plane": "traefik"}, {}, "--data-plane 'traefik': not one of ingress-nginx, nginx,"),
    ],
)
def test_a_data_plane_kind_or_cluster_do_not_run_is_one_line(given, env, message):
    with pytest.raises(ConfigError) as info:
        resolve(given, env)
    assert str(info.value).startswith(message)
    with pytest.raises(ConfigError, match="the kind backend runs ingress-nginx"):
        BedOptions(data_plane="haproxy").but(backend="kind")  # as `ingressbed up` resolves auto
    # ingress-nginx itself is what kind and cluster run, and any plane runs on the fake
    assert resolve({"backend": "kind", "data_plane": "ingress-nginx"}, {}).backend == "kind"
    assert resolve({"backend": "fake", "data_plane": "haproxy:pod-ids"}, {}).backend == "fake"
