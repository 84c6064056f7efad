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


@pytest.mark.slow
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


def test_a_misspelt_variable_is_refused_naming_the_one_meant():
    with pytest.raises(ConfigError) as caught:
        resolve({}, {"INGRESSBED_BAKEND": "local"})
    assert str(caught.value) == (
        "unknown variable INGRESSBED_BAKEND, did you mean INGRESSBED_BACKEND? "
        "(fix its name or unset it)"
    )
    with pytest.raises(ConfigError, match=r"^unknown variable INGRESSBED_WHATEVER: .*unset it$"):
        resolve({}, {"INGRESSBED_WHATEVER": "1"})
    # the variables that are not options are known too
    assert resolve({}, {"INGRESSBED_NGINX": "/usr/sbin/nginx", "INGRESSBED_CACHE": "/tmp"})


@pytest.mark.slow
def test_pytest_stops_at_start_up_for_a_misspelt_variable(pytester, monkeypatch):
    monkeypatch.setenv("INGRESSBED_BAKEND", "local")
    pytester.makepyfile(BAD_VARIABLE_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text
    assert [line for line in text.splitlines() if "INGRESSBED_BAKEND" in line] == [
        "ERROR: ingressbed: unknown variable INGRESSBED_BAKEND, did you mean "
        "INGRESSBED_BACKEND? (fix its name or unset it)"
    ]


def test_kind_and_cluster_options_are_named_as_given_when_the_backend_is_local():
    options = resolve(
        {"backend": "local", "context": "prod", "controller_version": "1.11.3"},
        {"INGRESSBED_NODE_IMAGE": "kindest/node:v1.30.0"},
    )
    assert options.not_applying("local") == [
        "--context 'prod'",
        "--controller-version '1.11.3'",
        "INGRESSBED_NODE_IMAGE='kindest/node:v1.30.0'",
    ]
    assert options.not_applying("kind") == []
    assert resolve({"backend": "local"}, {}).not_applying("local") == []


NEEDS_ONLY = """
import pytest
from ingressbed.vocabulary import Capability

@pytest.mark.needs(Capability.HASH)
def test_one(): pass

@pytest.mark.needs(Capability.HASH)
def test_two(): pass

@pytest.mark.needs(Capability.SCALE)
def test_three(): pass
"""


@pytest.mark.slow
def test_kind_options_on_the_local_backend_are_said_once_and_the_run_goes_on(pytester, monkeypatch):
    monkeypatch.setenv("INGRESSBED_NODE_IMAGE", "kindest/node:v1.30.0")
    pytester.makepyfile(NEEDS_ONLY)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend", "local", "--context", "prod", "-q"
    )
    assert result.ret == pytest.ExitCode.OK
    text = result.stdout.str() + result.stderr.str()
    said = [line for line in text.splitlines() if "local backend ignores" in line]
    assert said == [
        "ingressbed: --context 'prod' and INGRESSBED_NODE_IMAGE='kindest/node:v1.30.0': "
        "apply to the kind and cluster backends only; the local backend ignores them"
    ]
    assert "3 passed" in text
