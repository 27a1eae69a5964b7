"""The plan editor's form: the plans being edited, what the admin typed, what is wrong where, and what a save writes.

`PlanForm` holds the `PlanConfig` being edited (`config`, handed as is to `ConfigStore.save`), the selected plan, the
text of fields that hold no valid value yet (kept per plan, so nothing typed is lost on a plan switch), "unsaved
changes" against the file as loaded or saved, and what price lookups said about each linked price (the price slot's
state, currency clashes, replacements of archived prices). Field keys follow `PlanConfig.validate()`: "name", "id",
"test_price_id", "live_price_id", "quotas.<resource key>". No Textual here: the plan editor screen binds to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from portal_tui.domain.plans import PLAN_ID, Plan, PlanConfig, Resource, parse_quota
from portal_tui.services.errors import ConfigFileError
from portal_tui.services.redact import redact

if TYPE_CHECKING:
    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.gateway import StripeGateway

Slot = Literal["test", "live"]
SLOTS: tuple[Slot, Slot] = ("test", "live")
PRICE_ID = re.compile(r"^price_[A-Za-z0-9]+$")
RESOURCE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
SECRET_KEY_PASTED = "That was a secret API key — removed from this field; price IDs start with price_"
NEW_PLAN_NAME = "New plan"


def price_field(slot: Slot) -> str:
    return f"{slot}_price_id"


def quota_field(resource_key: str) -> str:
    return f"quotas.{resource_key}"


class InputError(ValueError):
    """Text the form refuses, with the field it belongs to and a message for the admin."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PriceLookup:
    """What looking a price up said: ok True (fine), False (a problem, shown as ✗), None (could not check now)."""

    ok: bool | None
    text: str
    currencies: tuple[str, ...] = ()  # the price's own currency first, then its currency_options
    replacement: str | None = None  # the active price that replaced this archived one


@dataclass(frozen=True)
class SlotState:
    """What a price slot shows under its field; `look_up` names a price nothing is known about yet."""

    text: str
    ok: bool | None = None
    look_up: str | None = None


@dataclass(frozen=True)
class PriceEdit:
    """The outcome of text typed in a price field."""

    message: str | None  # shown under the field; None clears it
    cleared: bool = False  # the field must be emptied (a secret key was pasted)
    look_up: bool = False  # a price ID to look up (after the typing pause)


@dataclass(frozen=True)
class BadInput:
    """The first plan holding text that is not a valid value: the reason a save is refused."""

    index: int
    plan: Plan
    field: str
    message: str
    more: int  # other bad fields in that plan

    def notice(self) -> str:
        others = f" (and {self.more} more)" if self.more else ""
        return f"Not saved: plan '{self.plan.name or self.plan.id}' has an invalid value{others}. {self.message}"


DiskChangeKind = Literal["deleted", "broken", "changed"]


@dataclass(frozen=True)
class DiskChange:
    """How the file differs from what the editor loaded: a save asks before overwriting it."""

    kind: DiskChangeKind
    detail: str = ""  # the parse error of a broken file

    def question(self, name: str, backup: str) -> tuple[str, str, str]:
        """What the save asks about the file `name` (kept as `backup`): title, details and the confirm label."""
        if self.kind == "deleted":
            return f"{name} was deleted since it was loaded", "Save writes your version as a new file.", "Write it"
        if self.kind == "broken":
            return (
                f"{name} changed on disk and no longer parses",
                f"{self.detail}\n\nSomeone edited it after portal-tui read it. Overwriting replaces their "
                f"version, broken part and all, with yours (the current file is kept as {backup}).",
                "Overwrite the broken file",
            )
        return (
            f"{name} changed on disk since it was loaded",
            "Someone (or another editor) saved it after portal-tui read it. Overwriting replaces their changes "
            f"with yours (the current file is kept as {backup}). Cancel, then ctrl+r, to load theirs.",
            "Overwrite",
        )


@dataclass(frozen=True)
class Offer:
    """A price the catalog or builder offered to link ("Link to plan…"); it fits only the slot of its own mode."""

    price_id: str
    slot: Slot

    def refusal(self, slot: Slot) -> str | None:
        """Why it cannot be linked as the `slot` price, or None when it can."""
        if slot == self.slot:
            return None
        # Test and live are separate worlds: a price of one mode never exists in the other.
        return (
            f"{self.price_id} is a {self.slot}-mode price: it can only be a plan's {self.slot} price. The {slot} "
            f"slot needs a price made with a {slot} key ({'sk_live_' if slot == 'live' else 'sk_test_'}…)."
        )


def _without_records(data: Mapping[str, Any]) -> dict[str, Any]:
    """A plan file's TOML dict without the plans' Verify records (what the admin edits here)."""
    plans = [{k: v for k, v in plan.items() if k != "verified"} for plan in data.get("plans", [])]
    return {**data, "plans": plans}


def currency_clash(slot: Slot, found: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """The warning when plans' linked prices of one slot do not all bill in the same currencies; `found` is
    (plan ID, the price's currencies).

    A subscription keeps its currency, so a customer could not switch between such plans (see `CURRENCY_CLASH`).
    """
    from portal_tui.services.plan_check import CURRENCY_CLASH, currency_gap

    if (gap := currency_gap(found)) is None:
        return None
    return f"⚠ {slot.capitalize()} prices bill in different currencies ({gap}): {CURRENCY_CLASH}"


def look_up_price(connect: Callable[[], StripeGateway], price_id: str, slot: Slot, key_mode: Slot) -> PriceLookup:
    """Look a linked price up (network: call it from a worker). With a key of the other mode, finding the price
    proves it sits in the wrong slot; not finding it only says it is not a price of the key's mode."""
    from portal_tui.domain.pricing import describe_price, price_currencies
    from portal_tui.services.errors import NotFoundError, PortalError
    from portal_tui.services.plan_check import find_replacement, price_problems

    try:
        gateway = connect()
        price = gateway.retrieve_price(price_id)
        problems = price_problems(price, slot)
        successor = (
            find_replacement(price, gateway.retrieve_price, gateway.find_price_by_lookup_key)
            if not price.get("active", True) and bool(price.get("livemode")) == (slot == "live")
            else None
        )
    except NotFoundError:
        if key_mode == slot:
            return PriceLookup(False, f"✗ {price_id} does not exist in {slot} mode")
        return PriceLookup(None, f"not a {key_mode}-mode price; connect a {slot} key to check it fully")
    except PortalError as error:
        return PriceLookup(None, f"could not check: {error.message}")
    currency = tuple(price_currencies(price)) if price.get("currency") else ()
    if successor is not None:
        new_id = str(successor["id"])
        problems = [p for p in problems if "archived" not in p]
        problems.insert(0, f"{price_id} is archived, replaced by {new_id} — press ctrl+y to link the new price")
        return PriceLookup(False, "✗ " + "; ".join(problems), currency, new_id)
    if problems:
        return PriceLookup(False, "✗ " + "; ".join(problems), currency)
    product = price.get("product")
    name = product.get("name") if isinstance(product, dict) else product
    return PriceLookup(True, f"✓ {name} · {describe_price(price)}", currency)


class PlanForm:
    """The plan file being edited in memory: plans, selection, bad input, unsaved changes, price checks, saving."""

    def __init__(self, store: ConfigStore) -> None:
        self.store = store
        self.config = PlanConfig()
        self.saved: dict[str, Any] = self.config.to_toml_dict()  # the file as last loaded or saved
        self.loaded_fingerprint: str | None = None
        self.broken: ConfigFileError | None = None  # the file did not load: nothing can be edited or saved
        self.selected: int | None = None
        # Per plan (by identity), the fields holding text that is not a valid value: field -> (text, message).
        # Kept across plan switches, so a bad value is neither lost nor silently dropped on save.
        self.bad: dict[int, dict[str, tuple[str, str]]] = {}
        # Plans created here and never saved: their ID follows their name until the admin edits the ID.
        self.fresh: set[int] = set()
        # Each plan as last loaded or saved, with its ID in the file: Verify's records are kept by that ID.
        self.file_ids: list[tuple[Plan, str]] = []
        # What lookups said per (price ID, slot), each price's currencies, and the successor of a replaced price.
        self.checks: dict[tuple[str, Slot], tuple[bool, str]] = {}
        self.currencies: dict[tuple[str, Slot], tuple[str, ...]] = {}
        self.replacements: dict[str, str] = {}
        self.offer: Offer | None = None

    # ---- the file --------------------------------------------------------------------------------------------------

    def load(self) -> bool:
        """Read the file (a missing one is an empty config); False when it does not load (`broken` says why)."""
        # Fingerprint first: if the file changes between this and the read, the next save asks (the safe side).
        fingerprint = self.store.fingerprint()
        try:
            self.config = self.store.load()
        except ConfigFileError as error:
            self.broken = error
            return False
        self.broken = None
        self.loaded_fingerprint = fingerprint
        self.saved = self.config.to_toml_dict()
        self.file_ids = [(plan, plan.id) for plan in self.config.plans]
        self.bad.clear()
        self.fresh.clear()
        self.forget_price_checks()  # a reload re-checks every linked price: one may have been replaced meanwhile
        self.selected = 0 if self.config.plans else None
        return True

    @property
    def dirty(self) -> bool:
        """Unsaved changes: the plans differ from the file as loaded or saved, or a field holds invalid text."""
        return self.broken is None and (self.config.to_toml_dict() != self.saved or any(self.bad.values()))

    def adopt_verify_records(self) -> bool:
        """Take the plans' Verify records from the file when they are all that changed on disk since it was loaded.

        Verify (step 5) records each run's verdict in the plan file. Unsaved edits here stay and the records join
        them; the file counts as loaded again, so the next save neither asks about a change on disk nor drops a
        record. Any other change on disk is left to the save's question. True when the records were taken.
        """
        if self.broken is not None:
            return False
        fingerprint = self.store.fingerprint()  # first: a change after it makes the next save ask (the safe side)
        if fingerprint is None or fingerprint == self.loaded_fingerprint:
            return False
        try:
            disk = self.store.load()
        except ConfigFileError:
            return False
        on_disk = disk.to_toml_dict()
        if _without_records(on_disk) != _without_records(self.saved):
            return False
        records = {plan.id: plan.verified for plan in disk.plans}
        editing = {id(plan) for plan in self.config.plans}
        for plan, file_id in self.file_ids:
            if id(plan) in editing:  # a plan deleted here (not saved yet) stays deleted
                plan.verified = records.get(file_id)
        # Equal to what was loaded but for the records: the file as it is now is what this editor started from.
        self.saved = on_disk
        self.loaded_fingerprint = fingerprint
        return True

    def disk_change(self) -> DiskChange | None:
        """How the file changed on disk since it was loaded or saved (records alone are adopted first); None: not."""
        self.adopt_verify_records()  # a Verify result recorded meanwhile is no conflict, and is kept
        now = self.store.fingerprint()
        if now == self.loaded_fingerprint:
            return None
        if now is None:
            return DiskChange("deleted")
        try:
            self.store.load()
        except ConfigFileError as error:
            return DiskChange("broken", error.message)
        return DiskChange("changed")

    def first_bad_input(self) -> BadInput | None:
        for index, plan in enumerate(self.config.plans):
            bad = self.bad.get(id(plan))
            if bad:
                field, (_text, message) = next(iter(bad.items()))
                return BadInput(index, plan, field, message, len(bad) - 1)
        return None

    def save(self) -> None:
        """Write `config` (atomically, see ConfigStore.save); raises PortalError with the edits kept."""
        self.store.save(self.config)
        self.loaded_fingerprint = self.store.fingerprint()
        self.saved = self.config.to_toml_dict()
        self.file_ids = [(plan, plan.id) for plan in self.config.plans]
        self.fresh.clear()

    def header(self) -> str:
        marker = "  ● modified (ctrl+s saves)" if self.dirty else ("" if self.store.exists() else "  (new file)")
        return f"Plan file: {self.store.path}{marker}"

    def invalid(self) -> str | None:
        """Why the plans as edited cannot be saved (a rule of the plan file), or None."""
        problems = self.config.validate()
        return f"Not saved: {len(problems)} problem(s). {problems[0].message}" if problems else None

    def saved_notice(self) -> tuple[str, str, bool]:
        """What the admin is told after a save: message, title, and whether it is a warning (price problems)."""
        count, path, warnings = len(self.config.plans), self.store.path, self.price_warnings()
        if not warnings:
            return f"Saved {count} plan(s) to {path}", "Plans saved", False
        message = f"Saved {count} plan(s) to {path}, but {len(warnings)} linked price(s) have problems:\n"
        return message + "\n".join(warnings), "Saved with price problems", True

    def live_links(self) -> str:
        """What a live-mode save's confirmation lists: the live prices the portal will sell."""
        linked = [f"{plan.name or plan.id}: {plan.live_price_id}" for plan in self.config.plans if plan.live_price_id]
        return "Live prices linked:\n" + "\n".join(linked) if linked else "No plan links a live price yet."

    # ---- plans -----------------------------------------------------------------------------------------------------

    @property
    def plan(self) -> Plan | None:
        if self.selected is None or not 0 <= self.selected < len(self.config.plans):
            return None
        return self.config.plans[self.selected]

    def select(self, index: int | None) -> bool:
        """Select a plan by its place in the list; True when the selection changed."""
        if index is None or index == self.selected or not 0 <= index < len(self.config.plans):
            return False
        self.selected = index
        return True

    def add_plan(self) -> Plan:
        plan = Plan(self.config.unique_plan_id(NEW_PLAN_NAME), NEW_PLAN_NAME)
        self.config.plans.append(plan)
        self.fresh.add(id(plan))
        self.selected = len(self.config.plans) - 1
        return plan

    def delete_plan(self, plan: Plan) -> bool:
        if plan not in self.config.plans:
            return False
        self.config.plans.remove(plan)
        self.bad.pop(id(plan), None)
        self.fresh.discard(id(plan))
        self.selected = min(self.selected or 0, len(self.config.plans) - 1) if self.config.plans else None
        return True

    def add_resource(self, key: str, label: str, unit: str) -> Resource:
        """A resource every plan can set a quota for; InputError (field "new_resource") when the key is unusable."""
        key = key.strip()
        if not RESOURCE_KEY.match(key):
            raise InputError("new_resource", "Resource keys use lower-case letters, digits and _ (e.g. gpu_hours)")
        if self.config.resource(key) is not None:
            raise InputError("new_resource", f"'{key}' already exists")
        resource = Resource(key, label.strip() or key, unit.strip())
        self.config.resources.append(resource)
        return resource

    def mark(self, plan: Plan, key_mode: Slot) -> str:
        """✓ linked and fine, ✗ a problem (bad input or a flagged price), · not linked in the key's mode."""
        if self.bad.get(id(plan)) or any(self._flagged(plan, slot) for slot in SLOTS):
            return "✗"
        return "✓" if plan.price_id(key_mode) else "·"

    def label(self, plan: Plan, key_mode: Slot) -> str:
        return f"{self.mark(plan, key_mode)} {plan.name or plan.id}"

    def id_note(self, plan: Plan) -> str:
        if id(plan) in self.fresh:
            return "follows the name until you edit it; the portal refers to the plan by this ID"
        if plan.id in {str(p.get("id")) for p in self.saved.get("plans", [])}:
            return "the portal refers to the plan by this ID: changing it breaks that link"
        return "the portal will refer to the plan by this ID"

    # ---- fields of the selected plan --------------------------------------------------------------------------------

    def values(self, plan: Plan) -> dict[str, str]:
        """Every field's text for `plan`: what was typed where it is not valid, else the value."""
        from portal_tui.domain.plans import format_quota

        values = {"name": plan.name, "id": plan.id}
        values |= {price_field(slot): plan.price_id(slot) or "" for slot in SLOTS}
        values |= {quota_field(r.key): format_quota(plan.quotas.get(r.key)) for r in self.config.resources}
        bad = self.bad.get(id(plan), {})
        return {field: bad[field][0] if field in bad else value for field, value in values.items()}

    def errors(self, plan: Plan) -> dict[str, str]:
        return {field: message for field, (_text, message) in self.bad.get(id(plan), {}).items()}

    def _set_bad(self, field: str, text: str, message: str | None) -> str | None:
        plan = self.plan
        if plan is not None:
            bad = self.bad.setdefault(id(plan), {})
            if message is None:
                bad.pop(field, None)
            else:
                bad[field] = (text, message)
        return message

    def set_name(self, text: str) -> str | None:
        """The name as typed; a plan never saved takes a unique ID from it. The field's message, or None."""
        plan = self.plan
        if plan is None:
            return None
        message = self._set_bad("name", text, None if text.strip() else "Give the plan a name")
        if text.strip():
            plan.name = text
            if id(plan) in self.fresh:
                # A plan nobody has saved yet: nothing refers to its ID, so it follows the name.
                plan.id = self.config.unique_plan_id(text, excluding=plan)
                self._set_bad("id", plan.id, None)
        return message

    def id_follows_name(self, plan: Plan) -> bool:
        return id(plan) in self.fresh

    def set_id(self, text: str) -> str | None:
        plan = self.plan
        if plan is None:
            return None
        value = text.strip()
        self.fresh.discard(id(plan))
        if not PLAN_ID.match(value):
            message: str | None = "Use lower-case letters, digits, - and _ (e.g. pro-vps)"
        elif any(p.id == value for p in self.config.plans if p is not plan):
            message = f"Another plan already has the ID '{value}'"
        else:
            message = None
            plan.id = value
        return self._set_bad("id", text, message)

    def set_price(self, slot: Slot, text: str) -> PriceEdit:
        plan = self.plan
        if plan is None:
            return PriceEdit(None)
        value = text.strip()
        field = price_field(slot)
        if redact(value) != value:
            # A secret key pasted into the wrong field: it must not stay on screen (nor in the plan, nor the file).
            self._set_bad(field, "", None)
            setattr(plan, field, None)
            return PriceEdit(SECRET_KEY_PASTED, cleared=True)
        if value and not PRICE_ID.match(value):
            message = f"'{value}' is not a price ID: they start with price_ (a prod_ ID is the product)"
            return PriceEdit(self._set_bad(field, text, message))
        self._set_bad(field, text, None)
        setattr(plan, field, value or None)
        return PriceEdit(None, look_up=True)

    def set_quota(self, resource_key: str, text: str) -> str | None:
        plan = self.plan
        if plan is None:
            return None
        field = quota_field(resource_key)
        if not text.strip():
            plan.quotas.pop(resource_key, None)
            return self._set_bad(field, text, None)
        try:
            plan.quotas[resource_key] = parse_quota(text)
        except ValueError as exc:
            return self._set_bad(field, text, str(exc))
        return self._set_bad(field, text, None)

    # ---- linked prices ----------------------------------------------------------------------------------------------

    def slot_state(self, slot: Slot, connected: bool) -> SlotState | None:
        """What the selected plan's price slot shows (None without a plan)."""
        plan = self.plan
        if plan is None:
            return None
        price_id = plan.price_id(slot)
        if not price_id:
            return SlotState("not linked")
        if not connected:
            return SlotState("connect Stripe to check this price")
        cached = self.checks.get((price_id, slot))
        if cached is not None:
            return SlotState(cached[1], cached[0])
        return SlotState("checking…", look_up=price_id)

    def record_lookup(self, price_id: str, slot: Slot, lookup: PriceLookup) -> bool:
        """Keep what a lookup said; True when it is about the selected plan's price in that slot."""
        if lookup.ok is not None:  # "could not check" is not kept: the next visit tries again
            self.checks[(price_id, slot)] = (lookup.ok, lookup.text)
        if lookup.currencies:
            self.currencies[(price_id, slot)] = lookup.currencies
        if lookup.replacement:
            self.replacements[price_id] = lookup.replacement
        plan = self.plan
        return plan is not None and plan.price_id(slot) == price_id

    def forget_price_checks(self) -> None:
        """Prices may have been created, replaced or archived since they were looked up."""
        self.checks.clear()
        self.currencies.clear()
        self.replacements.clear()

    def unchecked_prices(self) -> list[tuple[str, Slot]]:
        """Every plan's linked prices not looked up yet, so the list marks problems of plans not on screen too."""
        return sorted(
            {
                (price_id, slot)
                for plan in self.config.plans
                for slot in SLOTS
                if (price_id := plan.price_id(slot)) and (price_id, slot) not in self.checks
            }
        )

    def _flagged(self, plan: Plan, slot: Slot) -> str | None:
        price_id = plan.price_id(slot)
        result = self.checks.get((price_id, slot)) if price_id else None
        return result[1] if result is not None and result[0] is False else None

    def currency_warnings(self) -> list[str]:
        """One line per slot whose linked prices bill in different currencies (as `portal-tui check` does)."""
        lines = []
        for slot in SLOTS:
            found = [
                (plan.id, currency)
                for plan in self.config.plans
                if (price_id := plan.price_id(slot)) and (currency := self.currencies.get((price_id, slot)))
            ]
            if (line := currency_clash(slot, found)) is not None:
                lines.append(line)
        return lines

    def price_warnings(self) -> list[str]:
        """The known problems of linked prices, one line per plan and slot (a save still writes them)."""
        return [
            f"'{plan.name or plan.id}' {slot}: {flagged.removeprefix('✗ ')}"
            for plan in self.config.plans
            for slot in SLOTS
            if (flagged := self._flagged(plan, slot))
        ]

    def replacements_for(self, plan: Plan) -> list[tuple[Slot, str, str]]:
        """(slot, archived price, the price that replaced it) for each slot of `plan` linking a replaced price."""
        return [
            (slot, old, self.replacements[old])
            for slot in SLOTS
            if (old := plan.price_id(slot)) is not None and old in self.replacements
        ]

    def pick_refusal(self, slot: Slot, connected: bool, key_mode: Slot) -> str | None:
        """Why the price picker cannot fill the `slot` price: it lists the connected key's prices only."""
        if not connected:
            return "Connect Stripe first, or paste the price ID."
        if key_mode != slot:
            return (
                f"The connected key is in {key_mode} mode: the picker shows {key_mode} prices only. "
                f"Paste the {slot} price ID instead."
            )
        return None

    # ---- a price offered from the catalog or builder ----------------------------------------------------------------

    def take_offer(self, slot: Slot) -> str | None:
        """The offered price ID to link as the selected plan's `slot` price (the offer is used up), or None."""
        offer = self.offer
        if offer is None or offer.refusal(slot) is not None or self.plan is None:
            return None
        self.offer = None
        return offer.price_id
