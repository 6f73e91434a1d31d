"""Bad input to the trust features, refused by name with the fix: anomaly specs (API and CLI),
the trailing revision window and data check names in run config, a code of no board."""

from __future__ import annotations

import dagster as dg
import pydantic
import pytest

from marketdata_pipeline import cli
from marketdata_pipeline.boards import board_of
from marketdata_pipeline.defs.market.assets import DailyBarsConfig
from marketdata_pipeline.defs.market.checks import refuse_unknown_checks
from marketdata_pipeline.simulator import Simulator
from marketdata_pipeline.simulator.anomalies import Anomalies


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["unique_bars"], "kind 'unique_bars' is not one of preclose_chain"),
        (["price_limits:2"], "rate '2' is not a probability in (0, 1]"),
        (["price_limits:often"], "rate 'often' is not a probability"),
        ({"volume_units": 0}, "rate '0' is not a probability"),
    ],
)
def test_a_bad_anomaly_is_refused_naming_it_and_the_fix(spec, message):
    with pytest.raises(ValueError, match="anomaly .*") as raised:
        Anomalies(spec)
    assert message in str(raised.value)


def test_anomalies_are_a_list_not_one_string():
    with pytest.raises(TypeError, match="list of 'KIND"):
        Simulator(anomalies="price_limits")


def test_the_cli_refuses_a_bad_anomaly_naming_the_flag(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulator", "--anomaly", "lots"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "argument --anomaly" in error and "suspension_rules" in error


def test_a_kind_alone_takes_the_default_rate():
    assert Anomalies(["revision", "price_limits:0.1"]).rates == {"revision": 0.02, "price_limits": 0.1}


def test_a_negative_revision_window_is_refused_naming_the_field():
    with pytest.raises(pydantic.ValidationError, match="revision_days"):
        DailyBarsConfig(revision_days=-1)
    assert DailyBarsConfig().revision_days == 5


def test_an_unknown_check_name_is_refused_listing_the_real_ones():
    with pytest.raises(
        dg.Failure, match=r"error_checks \['unique_bars'\] are not data checks; pick from ohlc"
    ):
        refuse_unknown_checks(["unique_bars", "price_limits"])
    refuse_unknown_checks(["price_limits", "factors_fresh"])


def test_a_code_of_no_board_is_refused_naming_it():
    assert board_of("sz.301001").name == "ChiNext" and board_of("sz.000001").name == "main"
    with pytest.raises(ValueError, match=r"code 'hk\.00700' is on no A-share board: expected sh"):
        board_of("hk.00700")
