"""The strategy protocol and the base class every built-in strategy extends.

A migration runs these steps in order; a strategy overrides only those it does
differently (each is a generator of simpy events; use ``yield from session.x()``):

1. ``before_freeze`` -- work while the process still runs (precopy's rounds). Default: none.
2. ``detach``  -- hold the process's messages and freeze it. Default: both.
3. ``transfer`` -- move the address space. Default: the page map, then every resident
   page as one flow (eager), marking ``pages-sent`` when they have arrived.
4. ``files`` -- move the open files (the File Manager), their dirty blocks flushed to
   the file server or moved along as ``file_blocks`` says. Default: ``move``.
5. ``redirect`` -- move the communication state. Default: the IPC Manager's migrate_out.
6. ``resume``  -- move the execution state and run the process again. Default: the
   Process Manager's migrate_out with start.
7. ``cleanup`` -- after the resume, end the residual dependency on the source. Default:
   nothing the process needs is left on the source at the resume (the residual
   dependency ends there), and the source drops any leftover copies.

A strategy is an ``attrs`` frozen class: its fields are its parameters, validated when it
is built; ``residual`` says what it promises about residual dependencies (see
:data:`RESIDUALS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

import rhodos.validators as validators
from rhodos.migration_manager.session import PageSet, Session, Steps

__all__ = ["RESIDUALS", "BaseStrategy", "Strategy", "non_negative", "parameter", "positive"]

#: What a strategy promises about residual dependencies on the source:
#: ``none`` -- nothing left once the process resumes; ``flush`` -- the source serves
#: pages only until its flush to the file server ends; ``file-server`` -- pages left on
#: the file server, nothing on the source; ``source`` -- the source serves pages until
#: the process has them all (or exits).
RESIDUALS = ("none", "flush", "file-server", "source")


@runtime_checkable
class Strategy(Protocol):
    """What the Migration Manager needs of a strategy."""

    name: ClassVar[str]
    summary: ClassVar[str]
    residual: ClassVar[str]

    def run(self, session: Session) -> Steps:
        """Everything up to and including the resume."""
        ...

    def cleanup(self, session: Session) -> Steps:
        """End the residual dependency on the source."""
        ...

    def params(self) -> dict[str, Any]:
        """The strategy's parameters, by name."""
        ...


def parameter(rule: validators.Rule) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """``rule`` as the validator of a strategy parameter: the error names the strategy."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        rule.check(f"{type(instance).name} parameter {attribute.name}", value)

    validate.__doc__ = f"attrs validator: a strategy parameter {rule.words}."
    return validate


positive = parameter(validators.positive)
non_negative = parameter(validators.non_negative)


@attrs.frozen
class BaseStrategy:
    """Defaults for every step: together they are the eager (total copy) strategy."""

    name: ClassVar[str] = "base"
    summary: ClassVar[str] = "freeze, copy everything, resume"
    residual: ClassVar[str] = "none"
    #: What happens to the dirty blocks of the process's open files: ``flush`` (to the
    #: file server) or ``move`` (to the destination's cache).
    file_blocks: ClassVar[str] = "move"

    def run(self, session: Session) -> Steps:
        yield from self.before_freeze(session)
        yield from self.detach(session)
        yield from self.transfer(session)
        yield from self.files(session)
        yield from self.redirect(session)
        yield from self.resume(session)

    def before_freeze(self, session: Session) -> Steps:
        return
        yield

    def detach(self, session: Session) -> Steps:
        yield from session.hold_messages()
        yield from session.freeze()

    def transfer(self, session: Session) -> Steps:
        yield from session.export_space()
        yield from session.send_pages(PageSet.RESIDENT)
        session.mark("pages-sent")  # the copy is a phase of its own: it is the freeze

    def files(self, session: Session) -> Steps:
        yield from session.move_files(self.file_blocks)

    def redirect(self, session: Session) -> Steps:
        yield from session.move_comm()

    def resume(self, session: Session) -> Steps:
        yield from session.move_state(start=True)

    def cleanup(self, session: Session) -> Steps:
        session.mark("residual-end", session.time_of("resumed"))
        yield from session.free_source()

    def params(self) -> dict[str, Any]:
        return attrs.asdict(self)
