"""Each function's settings: read from the environment its template entry sets (and no more),
every default stated once and agreeing with the template's parameters and the README's table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from infra.build.packaging import load_template
from ocr_fetch.errors import ConfigurationError
from ocr_fetch.settings import CheckSettings, RecordSettings, StarterSettings, StoreSettings
from tests.support.template import TEMPLATE, function_environment

FUNCTIONS: dict[str, Any] = {
    "StarterFunction": StarterSettings,
    "CheckStatusFunction": CheckSettings,
    "StoreResultsFunction": StoreSettings,
    "RecordOutcomeFunction": RecordSettings,
}
#: What every function reads outside its settings (Powertools' own).
POWERTOOLS = {"POWERTOOLS_LOG_LEVEL"}
README = Path(__file__).resolve().parents[2] / "README.md"
CHECK_REQUIRED = {"RESULTS_BUCKET": "b", "ASPOSE_SECRET_NAME": "secret"}


def own_variables(logical_id: str) -> dict[str, Any]:
    """The function's own variables as the template writes them (intrinsics unresolved)."""
    template = load_template(TEMPLATE)
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    own = template["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
    return {**shared, **own}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_each_function_gets_exactly_the_environment_its_settings_read(logical_id: str) -> None:
    settings = FUNCTIONS[logical_id]
    assert set(own_variables(logical_id)) == settings.variables() | POWERTOOLS
    # and the settings build from it as deployed with the defaults
    settings.from_env(function_environment(logical_id))


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_settings_default_is_the_templates_parameter_default(logical_id: str) -> None:
    environment = function_environment(logical_id)
    settings = FUNCTIONS[logical_id]
    parameters = load_template(TEMPLATE)["Parameters"]
    compared = 0
    for name, value in own_variables(logical_id).items():
        if not (isinstance(value, dict) and value.get("Ref") in parameters) or name in POWERTOOLS:
            continue
        # Given the variable unset, the settings' own default applies...
        unset = {k: v for k, v in environment.items() if k != name}
        if name == "ASPOSE_TOKEN_URL":  # its default follows the base URL's
            unset.pop("ASPOSE_BASE_URL", None)
        # ...and it is what the parameter's default gives
        assert settings.from_env(unset) == settings.from_env(environment), name
        compared += 1
    assert compared > 0


def readme_parameters() -> dict[str, str]:
    """The README's parameter table: each parameter's stated default, as written."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| parameter | default |") :].split("\n\n", 1)[0]
    defaults: dict[str, str] = {}
    for row in table.splitlines()[2:]:
        names_cell, default_cell = (cell.strip() for cell in row.strip("|").split("|")[:2])
        names = re.findall(r"`([A-Za-z]+)`", names_cell)
        values = [v.strip() for v in default_cell.split(",")] if len(names) > 1 else [default_cell]
        assert len(values) == len(names), row
        defaults.update(zip(names, values, strict=True))
    return defaults


def readme_value(text: str) -> str:
    """A default as the README writes it (``64 MiB``, ``*empty*: …``, ```0`: none``), plainly."""
    text = text.split(":", 1)[0] if not text.startswith(("http", "`http")) else text
    text = text.replace("`", "").replace("*", "").strip()
    units = {"KiB": 1024, "MiB": 1024**2}
    match = re.fullmatch(r"([0-9.]+) (KiB|MiB)", text)
    if match:
        return str(int(float(match[1]) * units[match[2]]))
    return "" if text == "empty" else text


def test_the_readme_states_every_parameter_with_the_templates_default() -> None:
    parameters = load_template(TEMPLATE)["Parameters"]
    documented = readme_parameters()
    assert set(documented) == set(parameters)
    for name, written in documented.items():
        default = str(parameters[name].get("Default", ""))
        if name == "AsposeTokenUrl":
            written = written.replace("…", "https://api.aspose.cloud")
        assert readme_value(written) == default, name


# --- reading ---------------------------------------------------------------------------------
def test_settings_from_a_minimal_environment_use_the_defaults() -> None:
    settings = CheckSettings.from_env(CHECK_REQUIRED)
    assert settings.aspose_base_url == "https://api.aspose.cloud"
    assert settings.aspose_token_url == "https://api.aspose.cloud/connect/token"
    assert settings.polling.initial_seconds == 2
    assert settings.polling.lifetime_seconds == 82_800


def test_settings_read_every_variable() -> None:
    settings = CheckSettings.from_env(
        {
            **CHECK_REQUIRED,
            "ASPOSE_BASE_URL": "http://127.0.0.1:9/",
            "POLL_INITIAL_SECONDS": "1",
            "POLL_MAX_INTERVAL_SECONDS": "3",
            "POLL_MULTIPLIER": "1.5",
            "POLL_JITTER": "0.1",
            "POLL_DEADLINE_SECONDS": "60",
            "POLL_MAX_POLLS": "7",
            "RESULTS_LIFETIME_SECONDS": "600",
        }
    )
    assert settings.aspose_base_url == "http://127.0.0.1:9"
    assert settings.aspose_token_url == "http://127.0.0.1:9/connect/token"
    assert (settings.polling.max_interval_seconds, settings.polling.max_polls) == (3, 7)
    assert settings.polling.lifetime_seconds == 600


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(ConfigurationError) as info:
        StarterSettings.from_env({"RESULTS_BUCKET": "b"})
    for name in ("STATE_MACHINE_ARN", "DEAD_LETTER_QUEUE_URL"):
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POLL_MAX_POLLS", "many"),
        ("POLL_INITIAL_SECONDS", "-1"),
        ("ASPOSE_BASE_URL", "ftp://x"),
        ("ASPOSE_BASE_URL", "http://ocr.example.com"),
        ("ASPOSE_TOKEN_URL", "http://169.254.169.254/token"),
        ("CANCEL_ON_GIVE_UP", "yes"),
        ("MAX_RESPONSE_BYTES", "1.5"),
    ],
)
def test_malformed_variables_are_named(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        CheckSettings.from_env({**CHECK_REQUIRED, name: value})


def test_plain_http_is_allowed_to_this_machine_only() -> None:
    settings = CheckSettings.from_env(
        {**CHECK_REQUIRED, "ASPOSE_BASE_URL": "http://127.0.0.1:8085", "ASPOSE_TOKEN_URL": ""}
    )
    assert settings.aspose_token_url == "http://127.0.0.1:8085/connect/token"


@pytest.mark.parametrize(
    "inconsistent",
    [
        {"POLL_INITIAL_SECONDS": "10", "POLL_MAX_INTERVAL_SECONDS": "5"},
        {"POLL_DEADLINE_SECONDS": "7200", "RESULTS_LIFETIME_SECONDS": "3600"},
        {"RESULTS_LIFETIME_SECONDS": "90000"},
    ],
)
def test_inconsistent_polling_fails_at_start(inconsistent: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="POLL_"):
        CheckSettings.from_env({**CHECK_REQUIRED, **inconsistent})
