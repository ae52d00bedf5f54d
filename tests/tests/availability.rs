//! Finding a time through the real host, the Graph component and the emulator's demo tenant:
//! slots common to people in two zones and one of two rooms, within everyone's working hours and
//! clear of their items; unreadable mailboxes never free; the cache serving slots right after
//! free/busy; iCalendar free periods read back by a well-kept parser; `freebusy find`.

use std::process::Command;

use freebusy_core::api::{AvailabilityResponse, FreeBusyResponse};
use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{
    config_text_with_cache, freebusy_binary, get, graph_tenant, providers, require, stack_with_config, test_dir, Stack,
};

const START: &str = "2026-03-23T00:00:00Z";
const END: &str = "2026-03-28T00:00:00Z";

async fn cached_stack() -> Stack {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let tenants = graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET);
    stack_with_config(emulator, RuntimeSettings::default(), &config_text_with_cache(&tenants, "ttl_secs = 600")).await
}

fn request(people: &[&str], rooms: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "start": START, "end": END, "duration": 30,
        "participants": [ { "mailboxes": people, "required": "all" }, { "mailboxes": rooms, "required": 1 } ],
        "interval": 15, "timeZone": "Europe/Berlin", "buffer": { "before": 5, "after": 5 },
        "workingHours": "participants", "tentative": "busy", "maxSlots": 200
    })
}

async fn ask(api: &str, body: &serde_json::Value) -> (u16, String) {
    let resp = reqwest::Client::new().post(format!("{api}/v1/availability")).json(body).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn ms(t: &str) -> i64 {
    freebusy_core::api::parse_instant_str(t).unwrap()
}

#[tokio::test]
async fn slots_keep_clear_of_every_item_inside_everyones_working_hours_and_cost_no_call_after_freebusy() {
    let stack = cached_stack().await;
    let everyone = "adele.vance@contoso.com,megan.bowen@contoso.com,room.adams@contoso.com,room.baker@contoso.com";
    let (status, _, body) =
        get(&format!("{}/v1/freebusy?mailboxes={everyone}&start={START}&end={END}", stack.api)).await;
    assert_eq!(status, 200);
    let fb: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    let calls = stack.emulator.stats().get_schedule_requests;

    let (status, body) = ask(
        &stack.api,
        &request(
            &["adele.vance@contoso.com", "megan.bowen@contoso.com"],
            &["room.adams@contoso.com", "room.baker@contoso.com"],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stack.emulator.stats().get_schedule_requests, calls, "slots right after free/busy come from the cache");
    let a: AvailabilityResponse = serde_json::from_str(&body).unwrap();
    assert!(!a.slots.is_empty(), "{body}");
    assert!(a.blocked_by.is_empty() && a.mailboxes.iter().all(|m| m.error.is_none()));
    let busy = |mailbox: &str| -> Vec<(i64, i64, String)> {
        let m = fb.mailboxes.iter().find(|m| m.mailbox == mailbox).unwrap();
        m.busy.as_ref().unwrap().iter().map(|b| (ms(&b.start), ms(&b.end), b.status.as_str().to_string())).collect()
    };
    for slot in &a.slots {
        let (s, e) = (ms(&slot.start), ms(&slot.end));
        assert_eq!(e - s, 30 * 60_000);
        // Adele works 08-17 Berlin (07-16Z that week), Megan 09-17 New York (13-21Z): 13-16Z.
        let hour = (s / 3_600_000) % 24;
        assert!(
            (13..16).contains(&hour) && (e - 1) / 3_600_000 % 24 < 16,
            "{} outside the shared working hours",
            slot.start
        );
        for person in ["adele.vance@contoso.com", "megan.bowen@contoso.com"] {
            for (bs, be, status) in busy(person) {
                if status != "working-elsewhere" {
                    assert!(
                        be <= s - 5 * 60_000 || bs >= e + 5 * 60_000,
                        "{} overlaps {person}'s {status} item",
                        slot.start
                    );
                }
            }
        }
        // One of the rooms, each named only when free.
        let rooms = &slot.groups[1].free;
        assert!(!rooms.is_empty());
        for room in rooms {
            assert!(
                busy(room).iter().all(|(bs, be, _)| *be <= s - 5 * 60_000 || *bs >= e + 5 * 60_000),
                "{room} is busy at {}",
                slot.start
            );
        }
    }
    // Megan is out of office on Tuesday and Wednesday (24-25 March): no slot then.
    assert!(a.slots.iter().all(|s| !s.start.starts_with("2026-03-24") && !s.start.starts_with("2026-03-25")), "{body}");
}

#[tokio::test]
async fn an_unreadable_person_blocks_every_slot_and_an_unreadable_room_just_is_not_one_of_them() {
    let stack = cached_stack().await;
    let (_, body) =
        ask(&stack.api, &request(&["adele.vance@contoso.com", "nobody@contoso.com"], &["room.adams@contoso.com"]))
            .await;
    let a: AvailabilityResponse = serde_json::from_str(&body).unwrap();
    assert!(a.slots.is_empty(), "{body}");
    assert_eq!(a.blocked_by.len(), 1);
    assert_eq!(a.blocked_by[0].mailbox, "nobody@contoso.com");
    assert_eq!(a.blocked_by[0].error.code, freebusy_core::ErrorCode::NotFound);

    let (_, body) =
        ask(&stack.api, &request(&["adele.vance@contoso.com"], &["noroom@contoso.com", "room.adams@contoso.com"]))
            .await;
    let a: AvailabilityResponse = serde_json::from_str(&body).unwrap();
    assert!(!a.slots.is_empty(), "{body}");
    assert!(a.slots.iter().all(|s| s.groups[1].free == ["room.adams@contoso.com"]), "the unknown room is never free");
    assert!(a.mailboxes.iter().any(|m| m.mailbox == "noroom@contoso.com" && m.error.is_some()));

    let (status, body) =
        ask(&stack.api, &serde_json::json!({ "start": START, "end": END, "duration": 30, "participants": [] })).await;
    assert_eq!(status, 400);
    assert!(body.contains("participants"), "{body}");
}

#[tokio::test]
async fn free_slots_as_icalendar_read_back_with_the_icalendar_library() {
    require("python3", &["-c", "import icalendar"], "python3 with icalendar is needed (scripts/test installs it)");
    let stack = cached_stack().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/availability", stack.api))
        .header("accept", "text/calendar")
        .json(&request(&["adele.vance@contoso.com"], &["room.adams@contoso.com"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/calendar; charset=utf-8");
    let ical = resp.text().await.unwrap();
    let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
fb = [c for c in cal.walk() if c.name == "VFREEBUSY"][0]
periods = fb.get("FREEBUSY")
periods = periods if isinstance(periods, list) else [periods]
for p in periods:
    assert p.params.get("FBTYPE") == "FREE", p.params
    for start, end in p.dt if isinstance(p.dt, list) else [p.dt]:
        print(start.isoformat(), end.isoformat())
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(ical.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{ical}", String::from_utf8_lossy(&out.stderr));
    let periods = String::from_utf8(out.stdout).unwrap();
    assert!(periods.lines().count() >= 3, "{periods}\n{ical}");
    // Monday 23 March: Adele's day starts 08:00 Berlin (07:00Z) and her stand-up at 09:00 (08:00Z):
    // with 5 minutes clear before it, a 30-minute meeting can start from 07:00 to 07:15.
    assert_eq!(periods.lines().next(), Some("2026-03-23T07:00:00+00:00 2026-03-23T07:45:00+00:00"), "{periods}");
}

#[tokio::test]
async fn freebusy_find_prints_the_slots_as_a_table() {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let dir = test_dir("find");
    let file = dir.join("freebusy.toml");
    let config = format!(
        "default_tenant = \"contoso\"\n[store]\npath = \":memory:\"\n{}\n{}",
        providers(),
        graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET)
    );
    std::fs::write(&file, config).unwrap();
    // Asynchronously: the emulator answers on this test's runtime meanwhile.
    let out = tokio::process::Command::new(freebusy_binary())
        .args(["find", "--mailboxes", "adele.vance@contoso.com", "--rooms", "room.adams@contoso.com"])
        .args(["--duration", "30", "--days", "1", "--start", "2026-03-23", "--time-zone", "Europe/Berlin", "--config"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Free slots of 30 minutes (Europe/Berlin):"));
    // Adele's stand-up is 09:00-09:15, so the morning's first slot is 08:00 local.
    assert_eq!(lines.next().map(str::trim), Some("Mon 23 Mar 08:00-08:30   rooms: room.adams@contoso.com"), "{text}");
}
