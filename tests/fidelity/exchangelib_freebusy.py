"""exchangelib (PyPI), unchanged, asks the emulator's EWS endpoint for free/busy.

Usage: python3 exchangelib_freebusy.py <ews-url> <user> <password>
Prints one JSON object: {"views": [{"mailbox", "view_type", "merged", "events": [[start_utc, end_utc, busy_type], ...]}]}
exchangelib first calls GetServerTimeZones for the request's zone and reads the
ServerVersionInfo header, then GetUserAvailability with a TimeZone built from that definition.
"""

import json
import sys

from exchangelib import BASIC, Build, Configuration, Credentials, EWSDateTime, EWSTimeZone, Version
from exchangelib.protocol import Protocol

url, user, password = sys.argv[1:4]
config = Configuration(
    service_endpoint=url,
    credentials=Credentials(user, password),
    auth_type=BASIC,
    version=Version(build=Build(15, 0, 847, 31)),
)
protocol = Protocol(config=config)
tz = EWSTimeZone("Europe/Berlin")
UTC = EWSTimeZone("UTC")
start = EWSDateTime(2026, 3, 23, tzinfo=tz)
end = EWSDateTime(2026, 3, 31, tzinfo=tz)
mailboxes = ["adele.vance@contoso.com", "megan.bowen@contoso.com", "room.adams@contoso.com", "nobody@contoso.com"]
accounts = [(m, "Room" if m.startswith("room.") else "Required", False) for m in mailboxes]
views = []
for mailbox, view in zip(mailboxes, protocol.get_free_busy_info(accounts=accounts, start=start, end=end, merged_free_busy_interval=60, requested_view="DetailedMerged")):
    if isinstance(view, Exception):
        views.append({"mailbox": mailbox, "error": type(view).__name__ + ": " + str(view)})
        continue
    events = []
    for e in view.calendar_events or []:
        # exchangelib attaches the request's zone to the naive times it receives.
        s = e.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        t = e.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append([s, t, e.busy_type])
    views.append({"mailbox": mailbox, "view_type": view.view_type, "merged": view.merged, "events": events})
print(json.dumps({"views": views}))
