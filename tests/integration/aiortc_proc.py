"""An aiortc participant in its own process, for tests that kill or freeze it
(SIGKILL, SIGSTOP): joins `room` on the server at `url`, then publishes
(audio + video) or subscribes, and prints one status line every half
second until it is stopped:

    python3 aiortc_proc.py ws://127.0.0.1:PORT/ws ROOM NAME publish|subscribe

Output: "joined <participant id>", then "frames <video> <audio>" (subscriber)
or "publishing" (publisher).
"""
import asyncio
import sys

from aiortc_peer import Subscriber, publish
from conftest import WsClient


async def main(url, room, name, mode):
    client = await WsClient.connect(url, name=name)
    await client.join(room, display=name, role="teacher" if mode == "publish" else "student")
    print(f"joined {client.id}", flush=True)
    sub = None
    if mode == "publish":
        await publish(client)
    else:
        sub = Subscriber(client)
        await sub.answer_next_offer()
    while True:
        try:
            await client.next_notification("offer", timeout=0.5)
        except AssertionError:
            pass
        if sub:
            print(f"frames {sub.frames.get('video', 0)} {sub.frames.get('audio', 0)}", flush=True)
        else:
            print("publishing", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
