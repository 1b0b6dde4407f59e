"""A feature phone in the terminal: one virtual handset of smsgw, usable by a person.

Run ``smsgw phone +8613800000001`` (or ``python -m simulators.terminal_phone MSISDN --api URL``)
and the terminal shows the phone's screen: a status bar (name, number, signal, on/off, clock),
a keypad menu (1 Inbox, 2 Write message, 3 Sent, 4 Switch off/on, 0 Quit), an inbox that
fills up by itself as SMS land, a reader, and a composer that sends MO texts to short codes
or to other phones. ``*`` or ``#`` on the menu opens the dial line for USSD codes (``*126#``):
the dialogue's screens show full-screen, with a reply line when the application asks, and a
prompt or notice the network pushes pops up by itself.

Keys: digits pick menu items, Enter is OK, Esc (or Backspace, when there is nothing to
delete) is Back, the arrows (or 2/8 in lists) move, R replies and F forwards in the reader,
q or 0 quits from the menu, and Ctrl-C quits from anywhere. In a USSD dialogue Enter sends the
reply, Esc cancels, and Enter dismisses the last screen. The terminal is restored on
every way out.

Theory of operation
-------------------

The code comes in three layers that share nothing but immutable values:

* **HTTP** (:class:`~simulators.handset.HandsetClient`, the one :class:`~simulators.handset.Phone`
  uses too): blocking calls to the handset routes of ``docs/api.md``, returning
  :class:`~simulators.handset.Handset`, :class:`~simulators.handset.Sms` and
  :class:`~simulators.ussd_screen.UssdScreen` values or raising :class:`~simulators.http.SmsgwError`.
* **Model and screens** (:class:`PhoneUi` and the ``*Screen`` classes): pure. An event goes
  in, the state changes, and :meth:`PhoneUi.frame` renders the screen as lines of text for a
  given size and time. No I/O, no threads, no clock of its own.
* **Terminal and threads** (:func:`run`): the only code that touches the tty or starts threads.

Exactly one thread, the UI thread, owns the model and the screen. Everything else talks to
it through one :class:`queue.SimpleQueue` of events:

* :class:`KeyReader` blocks in ``select`` on stdin (and a pipe that stops it) and posts
  :class:`KeyPressed` / :class:`Pasted` events.
* :class:`InboxPoller` long-polls ``GET .../inbox?wait=25&after=CURSOR``: the server answers as
  soon as a message lands, so new messages show at once and an idle phone makes one request
  every 25 s. Between polls nothing runs. It posts :class:`InboxArrived`, and
  :class:`Reachability` when the API goes away or comes back (then it backs off on an Event,
  and reloads the whole inbox once it is back).
* :class:`UssdPoller` long-polls ``GET .../ussd?after=CURSOR&wait=25`` and posts
  :class:`UssdUpdated` when the dialogue changes, so a pushed prompt shows without a key
  press. smsgw answers that poll at once while no dialogue is open, so then it paces itself.
* User actions that need the network (send, switch, load the sent box) run on a short-lived
  thread each and post :class:`ActionDone` carrying a callback, which the UI thread runs.
* ``SIGWINCH`` posts :class:`Resized`; ``SimpleQueue.put`` is reentrant, so a signal handler
  may call it.

The UI thread blocks in ``SimpleQueue.get`` with a timeout that is the next moment the screen
must change by itself (the clock's next minute, the end of a notice), so it neither spins nor
sleeps. Frames are drawn line by line with absolute cursor moves, only the lines that changed,
on the alternate screen.

Widths are measured in terminal columns: CJK characters take two, combining marks none, and
control characters in a message are shown as ``�`` rather than sent to the terminal.

Modules
-------

* :mod:`~simulators.terminal_phone.text`: display width, wrapping, sanitising, SMS counting.
* :mod:`~simulators.terminal_phone.events`: the events the UI thread consumes.
* :mod:`~simulators.terminal_phone.screens`: frame primitives and the ``*Screen`` classes.
* :mod:`~simulators.terminal_phone.ussd`: the dial line and the USSD dialogue screen.
* :mod:`~simulators.terminal_phone.ui`: :class:`PhoneUi`, the model that owns the screens.
* :mod:`~simulators.terminal_phone.terminal`: the tty, ANSI output, key decoding and reading.
* :mod:`~simulators.terminal_phone.app`: the inbox and USSD pollers, the event loop and :func:`main`.
* ``__main__``: the command line, ``python -m simulators.terminal_phone``.
"""

from simulators.terminal_phone.app import main

__all__ = ["main"]
