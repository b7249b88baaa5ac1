"""The order path: every order of every executor goes through here.

* **Idempotency.** Client ids derive from what the order is for (bot, signal id, leg), so a
  retried submit carries the same id and the executor recognises it; an id the path has already
  submitted is never submitted again. Each order is recorded PENDING before it is sent.
* **Brackets.** An entry carries its stop-loss and take-profit. The protective legs are sent
  once the entry fills, sized to the filled amount (a partial fill protects what was filled, and
  the legs are resized as more fills arrive). When one leg fills, its sibling is cancelled: OCO is
  emulated here for executors without native OCO, the same way for paper and live. An entry
  fill that arrives after its trade is over (its cancel came too late) is closed at market.
* **Refusals.** An executor that refuses a protective leg or an exit before sending it (pair
  rules, say) leaves that order REJECTED, which the bot reports; trading goes on.
* **Recovery.** A resumed bot takes its orders and brackets back from the database
  (:meth:`OrderPath.restore`), then reconciles every unfinished one with the executor by client
  id (:meth:`OrderPath.reconcile`), through the same submit and update steps as any order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from genesis_core.contracts import Executor
from genesis_core.errors import OrderError
from genesis_core.models import (
    Fill,
    Liquidity,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    client_order_id,
)


LOST = "lost: the venue never got it (a stale entry is never placed late)"
WITHDRAWN = "withdrawn: cancelled before the venue got it"
UNACKNOWLEDGED = frozenset({OrderStatus.PENDING, OrderStatus.SUBMITTED})


@attrs.define
class Bracket:
    """An entry and its protective legs (client ids), linked by the entry's id."""

    entry_id: str
    symbol: str
    side: OrderSide
    stop_loss: Decimal | None
    take_profit: Decimal | None
    filled: Decimal = Decimal(0)
    stop_id: str | None = None
    take_id: str | None = None
    legs_version: int = 0
    closed: bool = False

    def to_data(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Bracket:
        def money(key: str) -> Decimal | None:
            return None if data[key] is None else Decimal(data[key])

        return cls(data["entry_id"], data["symbol"], OrderSide(data["side"]),
                   money("stop_loss"), money("take_profit"), Decimal(data["filled"]),
                   data["stop_id"], data["take_id"], int(data["legs_version"]),
                   bool(data["closed"]))


@attrs.define
class Booked:
    """What the bot's recorded fills cover of one order."""

    amount: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)


@attrs.define
class Reconciled:
    """What reconciling with the venue found (client ids), for the 'resumed' audit entry."""

    checked: int = 0
    changed: list[str] = attrs.Factory(list)      # "id: OPEN 0 -> FILLED 0.5"
    resubmitted: list[str] = attrs.Factory(list)  # never reached the venue; sent again, same id
    lost: list[str] = attrs.Factory(list)         # never reached the venue; an entry, now stale
    unknown: list[str] = attrs.Factory(list)      # acknowledged once, the venue has no record now
    synthesized: list[str] = attrs.Factory(list)  # fills booked from the order, fee unknown
    before: dict[str, Order] = attrs.Factory(dict)  # the checked orders as restored

    def note_changes(self, orders: Mapping[str, Order]) -> None:
        """List what moved, once the venue's reports have been applied."""
        for cid, old in self.before.items():
            new = orders[cid]
            if (old.status, old.filled_amount) != (new.status, new.filled_amount):
                self.changed.append(f"{cid}: {_state(old)} -> {_state(new)}")

    def as_data(self) -> dict[str, Any]:
        return attrs.asdict(self, filter=lambda a, _: a.name != "before")


def _exit_side(entry: OrderSide) -> OrderSide:
    return OrderSide.SELL if entry is OrderSide.BUY else OrderSide.BUY


def _state(order: Order) -> str:
    return f"{order.status.value} {order.filled_amount.normalize():f}"


OrderListener = Callable[[Order, Order | None], Awaitable[None]]
BracketListener = Callable[[Bracket], None]
FillSink = Callable[[Fill], Awaitable[None]]


async def _ignore_write_ahead() -> None:
    pass


class OrderPath:
    """Submits, tracks and links orders for one bot."""

    def __init__(self, bot: str, executor: Executor, on_order: OrderListener,
                 on_bracket: BracketListener | None = None,
                 clock: Callable[[], int] = lambda: 0) -> None:
        self._bot = bot
        self._executor = executor
        self._on_order = on_order
        self._on_bracket = on_bracket or (lambda bracket: None)
        self._clock = clock
        # Awaited after an order is recorded PENDING and before it is sent (the bot commits it
        # to disk there when the venue would outlive a crash).
        self.write_ahead: Callable[[], Awaitable[None]] = _ignore_write_ahead
        self.orders: dict[str, Order] = {}
        self.quote = "USD"  # fees in any other currency reduce what the legs may sell
        self.brackets: dict[str, Bracket] = {}
        self._leg_of: dict[str, str] = {}  # protective leg id -> entry id
        # Orders whose submit failed in transit (outcome unknown) and cancels that failed:
        # settled against the venue by client id on the next market event.
        self.unsettled: set[str] = set()
        self.cancels_due: set[str] = set()
        self.on_problem: Callable[[str, str], None] = lambda cid, why: None

    def make_id(self, *parts: str) -> str:
        return client_order_id(self._bot, *parts)

    async def submit(self, request: OrderRequest) -> Order | None:
        """Submit once per client id; a known id returns the tracked order unchanged."""
        known = self.orders.get(request.client_order_id)
        if known is not None:
            return known
        await self.update(Order(request, updated_at=self._clock()))
        return await self._send(request)

    async def _send(self, request: OrderRequest) -> Order:
        await self.write_ahead()
        try:
            placed = await self._executor.submit(request)
        except OrderError as exc:  # refused before it left: final, and the caller hears of it
            pending = self.orders[request.client_order_id]
            if pending.can_transition(OrderStatus.REJECTED):
                await self.update(pending.transition(OrderStatus.REJECTED, at=self._clock(),
                                                     reason=str(exc)))
            raise
        except Exception as exc:  # lost in transit: it may or may not be at the venue
            self.unsettled.add(request.client_order_id)
            self.on_problem(request.client_order_id, f"submit outcome unknown "
                            f"({type(exc).__name__}: {exc}); checking the venue by client id")
            return self.orders[request.client_order_id]
        await self.update(placed)
        return placed

    async def settle(self) -> Reconciled:
        """Resolve submits lost in transit and retry failed cancels, by client id.

        The rules are the crash-recovery ones: an order the venue holds is taken as the venue
        reports it; an exit or protective leg it never got is sent again under the same id;
        an entry it never got is marked lost, never placed late. A venue still unreachable
        leaves everything for the next call.
        """
        found = Reconciled()
        for cid in sorted(self.unsettled):
            try:
                view = await self._venue_view(self.orders[cid], found)
            except Exception:  # still unreachable: try again on the next event
                continue
            self.unsettled.discard(cid)
            if view is not None:
                await self.update(view)
        for cid in sorted(self.cancels_due):
            self.cancels_due.discard(cid)
            await self._cancel(cid)
        return found

    async def open(self, request: OrderRequest, stop_loss: Decimal | None,
                   take_profit: Decimal | None) -> Order | None:
        """Submit an entry and remember its bracket."""
        if request.client_order_id not in self.brackets:
            self._changed(self.brackets.setdefault(request.client_order_id, Bracket(
                request.client_order_id, request.symbol, request.side, stop_loss, take_profit)))
        return await self.submit(request)

    def pending_entries(self) -> dict[str, Decimal]:
        """Signed amounts of entries still working at the venue, per symbol."""
        out: dict[str, Decimal] = {}
        for bracket in self.brackets.values():
            entry = self.orders.get(bracket.entry_id)
            if bracket.closed or entry is None or entry.status.is_final:
                continue
            out[bracket.symbol] = out.get(bracket.symbol, Decimal(0)) + (
                bracket.side.sign * entry.remaining)
        return out

    async def close(self, symbol: str, amount: Decimal, side: OrderSide, tag: str) -> None:
        """Flatten ``amount`` of ``symbol`` at market and retire its brackets."""
        for bracket in self.brackets.values():
            if bracket.symbol == symbol and not bracket.closed:
                await self._retire(bracket)
        if amount > 0:  # the symbol in the id: one tag (an emergency stop) flattens several
            await self._submit_refusable(OrderRequest(
                self.make_id(tag, symbol, "exit"), symbol, side, OrderType.MARKET, amount,
                reduce_only=True))

    async def cancel_all(self) -> None:
        """Cancel every open order in one batch (the executor's ``cancel_many``)."""
        await self._cancel_ids(list(self.orders))

    async def update(self, order: Order) -> None:
        """Record an order state reported by the executor (deduplicated)."""
        previous = self.orders.get(order.client_order_id)
        if previous is not None:
            # The request is ours: a venue that rebuilt it (after a restart) reports only state.
            order = attrs.evolve(order, request=previous.request)
            if (previous.status, previous.filled_amount) == (order.status, order.filled_amount):
                return  # a duplicate
            if not previous.can_transition(order.status):
                await self._skipped_submitted(previous, order)
                return  # otherwise a stale report overtaken by a later state
            if order.filled_amount < previous.filled_amount:  # older than fills we know of
                if not order.status.is_final:
                    return
                order = attrs.evolve(order, filled_amount=previous.filled_amount,
                                     average_price=previous.average_price)
        self.orders[order.client_order_id] = order
        await self._on_order(order, previous)

    async def _skipped_submitted(self, previous: Order, order: Order) -> None:
        # A venue answers OPEN (or FILLED) to an order we recorded PENDING: it was submitted.
        if previous.status is not OrderStatus.PENDING:
            return
        submitted = previous.transition(OrderStatus.SUBMITTED, at=order.updated_at,
                                        exchange_order_id=order.exchange_order_id)
        if submitted.can_transition(order.status):
            await self.update(submitted)
            await self.update(order)

    async def on_fill(self, fill: Fill) -> None:
        """Keep brackets in step with fills: place or resize legs, or cancel a sibling."""
        entry_id = self._leg_of.get(fill.client_order_id)
        if entry_id is not None:
            await self._leg_filled(self.brackets[entry_id], fill)
            return
        bracket = self.brackets.get(fill.client_order_id)
        if bracket is None:
            return
        if bracket.closed:
            await self._close_late_fill(bracket, fill)
            return
        bracket.filled += self._held(fill)
        await self._place_legs(bracket)

    def _held(self, fill: Fill) -> Decimal:
        # A fee taken in the base currency leaves less held after a buy, more owed after a
        # sell (as the ledger books it); the legs must close exactly what is held.
        base_fee = fill.fee if fill.fee_currency != self.quote else Decimal(0)
        return fill.amount - fill.side.sign * base_fee

    async def _close_late_fill(self, bracket: Bracket, fill: Fill) -> None:
        # The trade is over (a leg filled, or it was flattened) but its entry filled once more
        # before the cancel landed: no leg protects that amount, so it goes straight back out.
        amount = self._held(fill)
        if amount > 0:
            await self._submit_refusable(OrderRequest(
                self.make_id(bracket.entry_id, "late", fill.fill_id), bracket.symbol,
                _exit_side(bracket.side), OrderType.MARKET, amount, reduce_only=True,
                parent_id=bracket.entry_id))

    async def _submit_refusable(self, request: OrderRequest) -> None:
        """Submit a leg or an exit; a refusal is recorded (REJECTED, reported by the bot) and
        must not stop the fill or command that caused it."""
        with contextlib.suppress(OrderError):
            await self.submit(request)

    async def _leg_filled(self, bracket: Bracket, fill: Fill) -> None:
        if bracket.closed:
            return
        if fill.client_order_id in (bracket.stop_id, bracket.take_id):
            await self._retire(bracket, keep=fill.client_order_id)  # OCO: the sibling goes
            return
        # A leg superseded by a resize filled before its cancel landed: the current legs are
        # resized to what is still held, not retired with the position left unprotected.
        bracket.filled -= fill.amount
        if bracket.filled > 0:
            await self._place_legs(bracket)
        else:
            await self._retire(bracket)

    async def _place_legs(self, bracket: Bracket) -> None:
        for leg_id in (bracket.stop_id, bracket.take_id):
            if leg_id is not None:
                await self._cancel(leg_id)
        bracket.legs_version += 1
        exit_side = _exit_side(bracket.side)
        version = str(bracket.legs_version)
        stop_id = self.make_id(bracket.entry_id, "stop", version)
        take_id = self.make_id(bracket.entry_id, "take", version)
        # Linked (and saved) before anything is sent, so a crash in between loses no link.
        bracket.stop_id = stop_id if bracket.stop_loss is not None else None
        bracket.take_id = take_id if bracket.take_profit is not None else None
        self._link(bracket)
        self._changed(bracket)
        if bracket.stop_id is not None:
            await self._submit_refusable(OrderRequest(
                bracket.stop_id, bracket.symbol, exit_side, OrderType.STOP, bracket.filled,
                stop_price=bracket.stop_loss, reduce_only=True, parent_id=bracket.entry_id,
                group_id=bracket.entry_id))
        if bracket.take_id is not None:
            await self._submit_refusable(OrderRequest(
                bracket.take_id, bracket.symbol, exit_side, OrderType.LIMIT, bracket.filled,
                price=bracket.take_profit, reduce_only=True, parent_id=bracket.entry_id,
                group_id=bracket.entry_id))

    async def _retire(self, bracket: Bracket, keep: str | None = None) -> None:
        bracket.closed = True
        self._changed(bracket)
        for leg_id in (bracket.stop_id, bracket.take_id, bracket.entry_id):
            if leg_id is not None and leg_id != keep:
                await self._cancel(leg_id)

    async def _cancel(self, client_id: str) -> None:
        await self._cancel_ids([client_id])

    async def _cancel_ids(self, ids: list[str]) -> None:
        ids = [i for i in ids if (o := self.orders.get(i)) is not None and not o.status.is_final]
        if not ids:
            return
        try:
            done = ([await self._executor.cancel(ids[0])] if len(ids) == 1
                    else await self._executor.cancel_many(ids))
        except OrderError:
            if len(ids) > 1:  # one refusal must not leave the others working: one by one
                for client_id in ids:
                    await self._cancel(client_id)
                return
            if self.orders[ids[0]].status not in UNACKNOWLEDGED:
                raise
            await self._withdraw(ids[0])
            return
        except Exception as exc:  # not known to be cancelled: retried on the next event
            self.cancels_due.update(ids)
            self.on_problem(",".join(ids), f"cancel failed ({type(exc).__name__}: {exc}); "
                                           "retrying")
            return
        for order in done:
            await self.update(order)

    async def _withdraw(self, client_id: str) -> None:
        # The venue refused to cancel an order whose submit never got an answer: it never
        # arrived. Final now, so settling cannot send it late (a leg of a closed trade).
        self.unsettled.discard(client_id)
        await self.update(self.orders[client_id].transition(
            OrderStatus.REJECTED, at=self._clock(), reason=WITHDRAWN))

    def _link(self, bracket: Bracket) -> None:
        for leg_id in (bracket.stop_id, bracket.take_id):
            if leg_id is not None:
                self._leg_of[leg_id] = bracket.entry_id

    def _changed(self, bracket: Bracket) -> None:
        self._on_bracket(bracket)

    # -- crash recovery ----------------------------------------------------------------------
    def restore(self, orders: Iterable[Order], brackets: Iterable[Bracket]) -> None:
        """Take back the orders and brackets a previous process recorded."""
        self.orders = {o.client_order_id: o for o in orders}
        self.brackets = {b.entry_id: b for b in brackets}
        self._leg_of = {}
        for bracket in self.brackets.values():
            self._link(bracket)
        for order in self.orders.values():  # superseded legs too: one may yet report a fill
            if order.request.parent_id in self.brackets:
                self._leg_of[order.client_order_id] = order.request.parent_id

    async def reconcile(self, booked: Mapping[str, Booked], book_fill: FillSink) -> Reconciled:
        """Bring every unfinished order in line with the venue, oldest first.

        Unfinished: not final, or filled beyond what ``booked`` fills cover. ``book_fill`` books
        a fill the venue made while the bot was down (it must ignore fill ids already booked).
        """
        found = Reconciled()
        for order in list(self.orders.values()):
            covered = booked.get(order.client_order_id, Booked())
            if order.status.is_final and order.filled_amount <= covered.amount:
                continue
            found.checked += 1
            found.before[order.client_order_id] = order
            venue = await self._venue_view(order, found)
            if venue is None:
                continue
            await self.update(venue)
            now = self.orders[order.client_order_id]
            for fill in await self._missing_fills(now, covered, found):
                await book_fill(fill)
        return found

    async def _venue_view(self, order: Order, found: Reconciled) -> Order | None:
        try:
            return await self._ask_venue(order, found)
        except OrderError as exc:  # the venue refused a resubmission outright
            if order.client_order_id in found.resubmitted:
                found.resubmitted.remove(order.client_order_id)
            if not order.can_transition(OrderStatus.REJECTED):
                found.unknown.append(order.client_order_id)
                return None
            found.lost.append(order.client_order_id)
            return order.transition(OrderStatus.REJECTED, at=self._clock(), reason=str(exc))

    async def _ask_venue(self, order: Order, found: Reconciled) -> Order | None:
        cid = order.client_order_id
        unsent = order.status in (OrderStatus.PENDING, OrderStatus.SUBMITTED)
        if order.request.parent_id is not None and not order.status.is_final:
            # A protective leg is re-attached by its idempotent submit: a venue that holds it
            # returns it (a native OCO pair is re-formed), one that never got it places it.
            # Reduce-only, so even a venue that forgot a filled leg cannot over-sell with it.
            if unsent:
                found.resubmitted.append(cid)
            return await self._executor.submit(order.request)
        venue = await self._executor.order(cid)
        if venue is not None:
            return venue
        if not unsent:
            found.unknown.append(cid)  # left as it is: nothing proves what became of it
            return None
        if order.request.reduce_only:  # an exit: flattening is still wanted
            found.resubmitted.append(cid)
            return await self._executor.submit(order.request)
        found.lost.append(cid)  # an entry decided on a market that has moved on: never late
        return order.transition(OrderStatus.REJECTED, at=self._clock(), reason=LOST)

    async def _missing_fills(self, order: Order, covered: Booked,
                             found: Reconciled) -> list[Fill]:
        if order.filled_amount <= covered.amount:
            return []
        listed = await self._executor.fills(order.client_order_id)
        if listed is not None:
            return listed
        if order.average_price is None:
            found.unknown.append(order.client_order_id)
            return []
        # The venue cannot list fills: book the unaccounted amount at the price that makes the
        # order's average come out right. The id is derived, so it is booked once.
        amount = order.filled_amount - covered.amount
        price = (order.average_price * order.filled_amount - covered.notional) / amount
        fill_id = f"{order.client_order_id}:reconciled:{order.filled_amount}"
        found.synthesized.append(fill_id)
        request = order.request
        return [Fill(fill_id, order.client_order_id, request.symbol, request.side, amount,
                     price, Decimal(0), self.quote, order.updated_at, Liquidity.TAKER)]
