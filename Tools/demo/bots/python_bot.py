"""A trading bot of the demo scene, through the statecoordinator package (Sources/python).

usage: python_bot.py DIR LABEL LOG

Trades every 20-60 ms against the shared limits: the halt and the limit are checked inside
`update`, under the writer lock, on the newest state; the "order" (a line in LOG: the bot's
trade count after it) is sent only after the commit returned. Between trades it follows the
store with a registered Reader and acknowledges each version it has seen, so an operator's
`statectl set /halt true --await-ack all` hears from it at once. SIGTERM stops it cleanly
(its registry entry removed); SIGKILL is what the scene tests.
"""
import os
import random
import signal
import sys
import time

from statecoordinator import Store


def main(directory: str, label: str, log_path: str) -> None:
    # A parent that handles signals through libdispatch (state-demo) has them blocked, and a
    # blocked mask survives exec: unblock SIGTERM, or it would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    store = Store(directory, label=label)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def trade(state, traded):
        if state["halt"]:
            return  # nothing changed: nothing committed
        quantity = random.choice((-1, 1)) * random.randint(1, 5)
        position = state["positions"].get(label, 0) + quantity
        if abs(position) > state["limits"]["maxPosition"]:
            return  # over the limit: no trade
        state["positions"][label] = position
        state["trades"][label] = state["trades"].get(label, 0) + 1
        traded.append(quantity)

    with store.reader(label=label) as reader:
        acknowledged = 0
        while True:
            traded = []
            committed = store.update(lambda state: trade(state, traded), lock_timeout=2.0)
            if traded:
                os.write(log, b"%d\n" % committed.state["trades"][label])  # the order goes out now
            next_trade = time.monotonic() + random.uniform(0.02, 0.06)
            while True:  # until the next trade, apply (acknowledge) every version seen
                current = reader.current
                if current.version > acknowledged:
                    reader.acknowledge(current.version)  # its halt flag and limits now rule this bot
                    acknowledged = current.version
                remaining = next_trade - time.monotonic()
                if remaining <= 0 and not current.state["halt"]:
                    break
                try:
                    reader.wait_until(lambda s: s.version > acknowledged, timeout=remaining if remaining > 0 else 1.0)
                except TimeoutError:
                    pass

if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
