"""The Load Manager server and its pluggable load-sharing policies, and the trader.

Importing this package registers the built-in policies of the four kinds
(information, transfer, location, selection); plugins of the ``rhodos.policies``
entry-point group follow. The study driver (:mod:`rhodos.load.run`), the queueing
models (:mod:`rhodos.load.queueing`), the experiment (:mod:`rhodos.load.experiment`)
and the command (:mod:`rhodos.cli.loadshare`) sit above the servers and are imported by name.
"""

# isort: off
from rhodos.load import information, transfer, location, selection

# isort: on
from rhodos.load.policy import (
    KINDS,
    Agent,
    BasePolicy,
    InformationPolicy,
    LocationPolicy,
    SelectionPolicy,
    Target,
    TransferPolicy,
    at_least,
    positive,
)
from rhodos.load.presets import PRESETS, UnknownPreset, policy_settings
from rhodos.load.registry import UnknownPolicy, make_policy, register, registered, unregister
from rhodos.load.requests import Offer, Resident
from rhodos.load.server import LoadManager, LoadStatistics
from rhodos.load.settings import Settings, SettingsError
from rhodos.load.trader import TraderTable
from rhodos.load.view import LoadView

__all__ = [
    "KINDS",
    "PRESETS",
    "Agent",
    "BasePolicy",
    "InformationPolicy",
    "LoadManager",
    "LoadStatistics",
    "LoadView",
    "LocationPolicy",
    "Offer",
    "Resident",
    "SelectionPolicy",
    "Settings",
    "SettingsError",
    "Target",
    "TraderTable",
    "TransferPolicy",
    "UnknownPolicy",
    "UnknownPreset",
    "at_least",
    "information",
    "location",
    "make_policy",
    "policy_settings",
    "positive",
    "register",
    "registered",
    "selection",
    "transfer",
    "unregister",
]
