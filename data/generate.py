#!/usr/bin/env python3
"""Generate the example warehouse's raw data: a small Discord-like chat platform.

Writes, next to this script:
  messages/messages_YYYY-MM-DD.parquet  one file per UTC day (raw.messages)
  voice_sessions.parquet                                  (raw.voice_sessions)
  users.parquet                          a snapshot       (raw.users)
  guild_member_events.parquet                             (raw.guild_member_events)

The output is deterministic: one seeded PRNG drives everything, and ids are
assigned after sorting. Re-running the script rewrites identical rows.

Events cover 2024-01-01 00:00 to 2024-02-05 02:00 UTC. The extra two hours past
2024-02-05 matter: a `max_time` source with `lag: 1h` is complete through
max(time) - 1h, so the data must reach past 01:00 on 5 February for the
weekly interval starting 2024-01-29 (and the daily one of 4 February) to be
complete.

Requires Python 3.11+ and the `duckdb` package (pip install duckdb).
"""

from __future__ import annotations

import bisect
import csv
import math
import random
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

SEED = 20240101
DATA_START = datetime(2024, 1, 1)
DATA_END = datetime(2024, 2, 5, 2)  # exclusive
N_USERS = 420
N_GUILDS = 30
OUT = Path(__file__).resolve().parent

# country -> (weight, UTC offset in hours)
COUNTRIES = {
    "US": (30, -6), "BR": (10, -3), "GB": (8, 0), "DE": (8, 1), "IN": (7, 5),
    "FR": (6, 1), "PL": (5, 1), "CA": (5, -5), "JP": (4, 9), "MX": (4, -6),
    "AU": (4, 10), "SE": (3, 1), "NL": (3, 1), "KR": (2, 9), "PH": (1, 8),
}
PLATFORMS = ["desktop", "android", "ios", "web"]
PLATFORM_WEIGHTS = [45, 25, 20, 10]
EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]
HANDLE_WORDS = [
    "pixel", "fox", "night", "owl", "river", "stone", "echo", "nova", "frost",
    "ember", "lunar", "tiger", "maple", "byte", "comet", "shadow", "cloud",
    "raven", "sonic", "zen", "atlas", "blaze", "coral", "drift", "onyx",
]

# Relative activity by local hour of day: quiet nights, a lunch bump, busy evenings.
LOCAL_HOUR_WEIGHT = [
    0.5, 0.3, 0.15, 0.08, 0.05, 0.05, 0.1, 0.25, 0.45, 0.6, 0.7, 0.8,
    0.9, 0.85, 0.8, 0.85, 0.95, 1.1, 1.3, 1.5, 1.6, 1.5, 1.2, 0.8,
]
# Voice skews harder to evenings and weekends.
VOICE_HOUR_WEIGHT = [
    0.6, 0.3, 0.1, 0.05, 0.02, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3,
    0.35, 0.35, 0.35, 0.4, 0.6, 0.9, 1.3, 1.7, 1.9, 1.8, 1.4, 1.0,
]

rng = random.Random(SEED)


def pick_hour(weights: list[float], offset: int) -> int:
    """A UTC hour drawn from local-time weights of a user `offset` hours from UTC."""
    local = rng.choices(range(24), weights=weights)[0]
    return (local - offset) % 24


def days() -> list[datetime]:
    d, out = DATA_START, []
    while d < DATA_END:
        out.append(d)
        d += timedelta(days=1)
    return out


def ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


# --- guilds: Zipf-like popularity, a few text and voice channels each ---------
guilds = []
for i in range(N_GUILDS):
    gid = 700_000 + 17 * (i + 1)
    guilds.append({
        "id": gid,
        "weight": 1.0 / (i + 1) ** 0.9,
        "text": [gid * 100 + k for k in range(1, rng.randint(2, 7))],
        "voice": [gid * 100 + 50 + k for k in range(rng.randint(1, 3))],
    })
guild_weights = [g["weight"] for g in guilds]

# --- users ----------------------------------------------------------------------
users = []
country_names = list(COUNTRIES)
country_weights = [COUNTRIES[c][0] for c in country_names]
span = (DATA_END - timedelta(hours=3) - DATA_START).total_seconds()
for i in range(N_USERS):
    uid = 10_000 + 7 * i + rng.randint(0, 6)
    if rng.random() < 0.74:
        created = datetime(2019, 6, 1) + timedelta(seconds=rng.uniform(0, (DATA_START - datetime(2019, 6, 1)).total_seconds()))
    else:
        # sign-ups grow slightly through the period
        created = DATA_START + timedelta(seconds=span * math.sqrt(rng.random()))
    created = created.replace(microsecond=0)
    country = rng.choices(country_names, weights=country_weights)[0]
    handle = f"{rng.choice(HANDLE_WORDS)}{rng.choice(HANDLE_WORDS)}{rng.randint(1, 999)}"
    users.append({
        "id": uid,
        "created": created,
        "country": country,
        "offset": COUNTRIES[country][1],
        "email": f"{handle}@{rng.choice(EMAIL_DOMAINS)}",
        "platform": rng.choices(PLATFORMS, weights=PLATFORM_WEIGHTS)[0],
        # skewed engagement: a few daily regulars, a long tail of occasional visitors
        "p_active": min(0.95, rng.betavariate(0.9, 2.2) * 1.1),
        "burst": rng.lognormvariate(1.2, 0.7),
        "p_voice": rng.betavariate(0.8, 3.0) if rng.random() < 0.6 else 0.0,
    })

# --- memberships: (join, leave) spans; None = before / after the data ------------
member_events = []  # (event_at, guild_id, user_id, action)
spans: dict[int, list[tuple[int, datetime | None, datetime | None]]] = {}


def random_time(after: datetime, before: datetime = DATA_END) -> datetime:
    return (after + timedelta(seconds=rng.uniform(0, (before - after).total_seconds()))).replace(microsecond=0)


for u in users:
    n = min(N_GUILDS, 1 + int(rng.expovariate(1 / 2.2)))
    chosen: list[int] = []
    while len(chosen) < n:
        g = rng.choices(range(N_GUILDS), weights=guild_weights)[0]
        if g not in chosen:
            chosen.append(g)
    user_spans = []
    for k, g in enumerate(chosen):
        gid = guilds[g]["id"]
        if u["created"] < DATA_START and rng.random() < 0.8:
            join = None
        elif u["created"] >= DATA_START and k == 0:
            join = u["created"] + timedelta(seconds=rng.randint(30, 2 * 3600))
        else:
            join = random_time(max(u["created"], DATA_START))
        leave = None
        if rng.random() < 0.12:
            leave = random_time(join or DATA_START)
        if join is not None:
            member_events.append((join, gid, u["id"], "join"))
        if leave is not None:
            member_events.append((leave, gid, u["id"], "leave"))
            if rng.random() < 0.3:  # some come back
                rejoin = random_time(leave)
                member_events.append((rejoin, gid, u["id"], "join"))
                user_spans.append((g, rejoin, None))
        user_spans.append((g, join, leave))
    spans[u["id"]] = user_spans

# Drive-by joins: someone follows an invite link, looks around, leaves.
drive_by_until: dict[tuple[int, int], datetime] = {}
for day in days():
    for _ in range(rng.randint(8, 20)):
        u = rng.choice(users)
        if u["created"] >= day + timedelta(days=1):
            continue
        g = rng.choices(range(N_GUILDS), weights=guild_weights)[0]
        if any(s[0] == g for s in spans[u["id"]]):
            continue
        join = day + timedelta(hours=pick_hour(LOCAL_HOUR_WEIGHT, u["offset"]), seconds=rng.randint(0, 3599))
        join = max(join, u["created"] + timedelta(minutes=1))
        leave = join + timedelta(seconds=int(rng.expovariate(1 / 7200)) + 60)
        if leave < DATA_END and join > drive_by_until.get((u["id"], g), DATA_START):
            drive_by_until[(u["id"], g)] = leave
            member_events.append((join, guilds[g]["id"], u["id"], "join"))
            member_events.append((leave, guilds[g]["id"], u["id"], "leave"))


def guilds_at(uid: int, t: datetime) -> list[int]:
    return [g for g, j, l in spans[uid] if (j is None or j <= t) and (l is None or t < l)]


# --- messages and voice sessions ---------------------------------------------------
messages = []  # (sent_at, user_id, guild_id, channel_id, length, has_attachment, platform)
voice = []  # (started_at, ended_at, user_id, guild_id, channel_id, platform)


def session_platform(u: dict) -> str:
    return u["platform"] if rng.random() < 0.75 else rng.choices(PLATFORMS, weights=PLATFORM_WEIGHTS)[0]


for day in days():
    weekend = day.weekday() >= 5
    growth = 1.0 + 0.004 * (day - DATA_START).days
    for u in users:
        if u["created"] >= day + timedelta(days=1):
            continue
        if rng.random() < u["p_active"] * (1.2 if weekend else 1.0) * growth:
            for _ in range(1 + int(rng.expovariate(1 / 2.6))):
                t = day + timedelta(hours=pick_hour(LOCAL_HOUR_WEIGHT, u["offset"]), seconds=rng.randint(0, 3599))
                if t < u["created"] or t >= DATA_END:
                    continue
                here = guilds_at(u["id"], t)
                if not here:
                    continue
                g = guilds[rng.choices(here, weights=[guild_weights[i] for i in here])[0]]
                channel = rng.choices(g["text"], weights=[1 / (k + 1) for k in range(len(g["text"]))])[0]
                platform = session_platform(u)
                for _ in range(1 + int(rng.expovariate(1 / u["burst"]))):
                    if t >= DATA_END:
                        break
                    length = max(1, min(2000, int(rng.lognormvariate(3.3, 0.9))))
                    messages.append((t, u["id"], g["id"], channel, length, rng.random() < 0.06, platform))
                    t += timedelta(seconds=5 + int(rng.expovariate(1 / 45)))
        if not (u["p_voice"] and rng.random() < u["p_voice"] * (1.5 if weekend else 1.0)):
            continue
        for _ in range(1 + int(rng.expovariate(1 / 1.0))):
            start = day + timedelta(hours=pick_hour(VOICE_HOUR_WEIGHT, u["offset"]), seconds=rng.randint(0, 3599))
            here = guilds_at(u["id"], start)
            minutes = max(1.0, min(360.0, rng.lognormvariate(3.4, 0.9)))
            end = start + timedelta(seconds=int(minutes * 60))
            # one voice channel at a time (recent sessions are enough to look at)
            busy = any(v[2] == u["id"] and start < v[1] and v[0] < end for v in voice[-200:])
            if start < u["created"] or start >= DATA_END or not here or busy:
                continue
            g = guilds[rng.choices(here, weights=[guild_weights[i] for i in here])[0]]
            voice.append((start, end, u["id"], g["id"], rng.choice(g["voice"]), session_platform(u)))

# Every max_time source needs events in its last hour, or its watermark stops short.
last_hour = DATA_END - timedelta(hours=1)
u = max(users, key=lambda u: u["p_active"])
here = guilds_at(u["id"], last_hour) or [0]
g = guilds[here[0]]
if not any(m[0] >= last_hour for m in messages):
    messages.append((last_hour + timedelta(minutes=40), u["id"], g["id"], g["text"][0], 42, False, u["platform"]))
if not any(v[0] >= last_hour for v in voice):
    s = last_hour + timedelta(minutes=25)
    voice.append((s, s + timedelta(minutes=47), u["id"], g["id"], g["voice"][0], u["platform"]))
if not any(e[0] >= last_hour for e in member_events):
    newcomer = next(x for x in users if x["created"] < last_hour and guilds[-1]["id"] not in {guilds[s[0]]["id"] for s in spans[x["id"]]})
    member_events.append((last_hour + timedelta(minutes=12), guilds[-1]["id"], newcomer["id"], "join"))

# --- write ------------------------------------------------------------------------------
messages.sort(key=lambda m: (m[0], m[1], m[3]))
voice.sort(key=lambda v: (v[0], v[2]))
member_events.sort(key=lambda e: (e[0], e[1], e[2], e[3]))
# Snowflake-ish ids, increasing with time.
messages = [(1_200_000_000 + i, *m) for i, m in enumerate(messages, 1)]
voice = [(500_000 + i, *v) for i, v in enumerate(voice, 1)]

tmp = Path(tempfile.mkdtemp(prefix="derived-example-"))
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")


def load(name: str, header: list[str], rows: list[tuple], types: dict[str, str]) -> None:
    path = tmp / f"{name}.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([ts(x) if isinstance(x, datetime) else x for x in r])
    cols = ", ".join(f"'{c}': '{t}'" for c, t in types.items())
    con.execute(f"CREATE TABLE {name}_csv AS SELECT * FROM read_csv('{path}', header = true, columns = {{{cols}}})")


load("messages", ["message_id", "sent_at", "user_id", "guild_id", "channel_id", "length", "has_attachment", "platform"], messages,
     {"message_id": "BIGINT", "sent_at": "TIMESTAMP", "user_id": "BIGINT", "guild_id": "BIGINT", "channel_id": "BIGINT",
      "length": "INTEGER", "has_attachment": "BOOLEAN", "platform": "VARCHAR"})
load("voice", ["session_id", "started_at", "ended_at", "user_id", "guild_id", "channel_id", "platform"], voice,
     {"session_id": "BIGINT", "started_at": "TIMESTAMP", "ended_at": "TIMESTAMP", "user_id": "BIGINT", "guild_id": "BIGINT",
      "channel_id": "BIGINT", "platform": "VARCHAR"})
load("users", ["user_id", "created_at", "country", "email"],
     [(u["id"], u["created"], u["country"], u["email"]) for u in sorted(users, key=lambda u: u["id"])],
     {"user_id": "BIGINT", "created_at": "TIMESTAMP", "country": "VARCHAR", "email": "VARCHAR"})
load("events", ["event_at", "guild_id", "user_id", "action"], member_events,
     {"event_at": "TIMESTAMP", "guild_id": "BIGINT", "user_id": "BIGINT", "action": "VARCHAR"})

PARQUET = "(FORMAT parquet, COMPRESSION zstd)"
msg_dir = OUT / "messages"
if msg_dir.exists():
    shutil.rmtree(msg_dir)
msg_dir.mkdir()
for day in days():
    con.execute(f"""
        COPY (
            SELECT message_id, sent_at, user_id, guild_id, channel_id, length, has_attachment, platform
            FROM messages_csv
            WHERE sent_at >= TIMESTAMP '{ts(day)}' AND sent_at < TIMESTAMP '{ts(day + timedelta(days=1))}'
            ORDER BY message_id
        ) TO '{msg_dir / f"messages_{day:%Y-%m-%d}.parquet"}' {PARQUET}
    """)
con.execute(f"""
    COPY (
        SELECT session_id, user_id, guild_id, channel_id, started_at, ended_at, platform
        FROM voice_csv ORDER BY session_id
    ) TO '{OUT / "voice_sessions.parquet"}' {PARQUET}
""")
con.execute(f"COPY (SELECT * FROM users_csv ORDER BY user_id) TO '{OUT / 'users.parquet'}' {PARQUET}")
con.execute(f"""
    COPY (SELECT * FROM events_csv ORDER BY event_at, guild_id, user_id, action)
    TO '{OUT / 'guild_member_events.parquet'}' {PARQUET}
""")
shutil.rmtree(tmp)

print(f"users={len(users)} guilds={N_GUILDS} messages={len(messages)} "
      f"voice_sessions={len(voice)} guild_member_events={len(member_events)}")
