//! The CalDAV provider component in the real host against real CalDAV servers: Radicale (the
//! `free-busy-query` REPORT, Basic authentication, a service account allowed only free/busy) and
//! Xandikos (the RFC 6638 scheduling outbox, `principal-property-search`), seeded with the demo
//! tenant's calendars as iCalendar (`freebusy_emulator::ics`), and compared with what the Graph
//! provider reads from the emulator for the same people.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use freebusy_emulator::demo;
use freebusy_emulator::tenant::Mailbox;
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::caldav::{self, Server, SERVICE_PASSWORD, SERVICE_USER};
use freebusy_tests::{get, graph_tenant, start};
use serde_json::Value;

/// Monday 23 March to Saturday 4 April 2026: Europe changes to summer time on 29 March, inside.
const START: &str = "2026-03-23T00:00:00Z";
const END: &str = "2026-04-04T00:00:00Z";
const SLOT_MINUTES: i64 = 15;

fn caldav_tenant(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[tenants.{name}]\nprovider = \"caldav\"\n[tenants.{name}.settings]\nbase_url = \"{url}\"\nusername = \"{SERVICE_USER}\"\npassword = \"{SERVICE_PASSWORD}\"\n{extra}\n"
    )
}

fn demo_people() -> Vec<Mailbox> {
    demo::tenant().mailboxes.into_iter().collect()
}

/// Radicale with every demo mailbox's calendar, each seeded by its owner.
async fn seeded_radicale(name: &str, mailboxes: &[Mailbox]) -> Server {
    let refs: Vec<&Mailbox> = mailboxes.iter().collect();
    let server = Server::radicale(name, &refs).await;
    for m in mailboxes {
        let home = format!("{}/{}/", server.url, m.address);
        let password = caldav::mailbox_password(&m.address);
        caldav::seed(&home, "calendar", Some((&m.address, &password)), m).await;
    }
    server
}

async fn freebusy(api: &str, tenant: &str, mailboxes: &[&str]) -> Value {
    let url = format!(
        "{api}/v1/tenants/{tenant}/freebusy?mailboxes={}&start={START}&end={END}&interval={SLOT_MINUTES}",
        mailboxes.join(",")
    );
    let (status, _, body) = get(&url).await;
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

fn view(answer: &Value, i: usize) -> &str {
    let m = &answer["mailboxes"][i];
    m["availabilityView"].as_str().unwrap_or_else(|| panic!("{} has no view: {m}", m["mailbox"]))
}

fn slot_time(i: usize) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(START).unwrap().with_timezone(&Utc) + Duration::minutes(SLOT_MINUTES * i as i64)
}

fn slot_of(t: DateTime<Utc>) -> i64 {
    (t - slot_time(0)).num_minutes().div_euclid(SLOT_MINUTES)
}

/// The mapping CalDAV imposes (plugins/caldav/src/lib.rs): out of office is written as a busy
/// event and read back busy; working elsewhere is a transparent event, so free.
fn as_caldav_can_say(graph_digit: char) -> char {
    match graph_digit {
        '3' => '2',
        '4' => '0',
        d => d,
    }
}

/// All-day events are floating dates; a server without the calendar's zone places them at UTC
/// midnight (Radicale: radicale/item/filter.py; RFC 4791 §9.9 leaves it to the calendar's
/// zone). The slots of an all-day item in either placement, and the digit it shows.
fn all_day_spans(m: &Mailbox) -> Vec<(std::ops::Range<i64>, std::ops::Range<i64>, char)> {
    let (start, end) = (slot_time(0), DateTime::parse_from_rfc3339(END).unwrap().with_timezone(&Utc));
    m.instances(start, end)
        .into_iter()
        .filter(|i| i.all_day)
        .map(|i| {
            let local_first = i.start.with_timezone(&m.time_zone).date_naive();
            let local_after = i.end.with_timezone(&m.time_zone).date_naive();
            let utc = |d: chrono::NaiveDate| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN));
            let digit = match i.show_as {
                freebusy_emulator::tenant::ShowAs::Tentative => '1',
                freebusy_emulator::tenant::ShowAs::Busy | freebusy_emulator::tenant::ShowAs::Oof => '2',
                _ => '0',
            };
            (slot_of(i.start)..slot_of(i.end), slot_of(utc(local_first))..slot_of(utc(local_after)), digit)
        })
        .collect()
}

#[tokio::test]
async fn radicale_free_busy_equals_the_graph_providers_except_where_caldav_cannot_say() {
    let mailboxes = demo_people();
    let radicale = seeded_radicale("caldav-radicale-cross", &mailboxes).await;
    let stack = start(RuntimeSettings::default(), |emulator| {
        format!(
            "{}{}",
            graph_tenant("contoso", emulator, demo::CLIENT_ID, demo::CLIENT_SECRET),
            caldav_tenant("dav", &radicale.url, "")
        )
    })
    .await;
    let addresses: Vec<&str> = mailboxes.iter().map(|m| m.address.as_str()).collect();
    let graph = freebusy(&stack.api, "contoso", &addresses).await;
    let dav = freebusy(&stack.api, "dav", &addresses).await;

    let mut compared = 0usize;
    let mut total = 0usize;
    for (i, m) in mailboxes.iter().enumerate() {
        let (g, d): (Vec<char>, Vec<char>) = (view(&graph, i).chars().collect(), view(&dav, i).chars().collect());
        assert_eq!(g.len(), d.len(), "{}", m.address);
        let spans = all_day_spans(m);
        let in_all_day = |s: i64| spans.iter().any(|(local, utc, _)| local.contains(&s) || utc.contains(&s));
        for s in 0..g.len() {
            total += 1;
            if in_all_day(s as i64) {
                continue;
            }
            compared += 1;
            assert_eq!(
                d[s],
                as_caldav_can_say(g[s]),
                "{} at {}: Graph says {}, CalDAV {}",
                m.address,
                slot_time(s),
                g[s],
                d[s]
            );
        }
        // Each all-day item shows at UTC midnight, with its status as CalDAV can say it.
        for (_, utc, digit) in &spans {
            for s in utc.clone().filter(|s| (0..d.len() as i64).contains(s)) {
                assert!(
                    d[s as usize] >= *digit,
                    "{}: all-day item at {} reads {}",
                    m.address,
                    slot_time(s as usize),
                    d[s as usize]
                );
            }
        }
    }
    // Nearly everything is compared slot for slot; the all-day days are the exception.
    assert!(compared * 10 > total * 9, "only {compared} of {total} slots compared");
    // The comparison is not vacuous: the week has busy, tentative and (Graph's) out of office.
    let all_graph: String = (0..mailboxes.len()).map(|i| view(&graph, i)).collect();
    for digit in ['1', '2', '3', '4'] {
        assert!(all_graph.contains(digit), "no {digit} in Graph's views");
    }
}

#[tokio::test]
async fn radicale_reports_unknown_and_refused_mailboxes_per_mailbox_never_free() {
    let adele = demo_people().into_iter().find(|m| m.address.starts_with("adele")).unwrap();
    let radicale = seeded_radicale("caldav-radicale-errors", std::slice::from_ref(&adele)).await;
    let stack = start(RuntimeSettings::default(), |_| caldav_tenant("dav", &radicale.url, "")).await;
    let answer = freebusy(&stack.api, "dav", &[&adele.address, "nobody@contoso.com"]).await;
    let ms = answer["mailboxes"].as_array().unwrap();
    assert!(ms[0]["availabilityView"].as_str().unwrap().contains('2'), "{}", ms[0]);
    assert_eq!(ms[1]["error"]["code"], "not-found", "{}", ms[1]);
    assert!(ms[1].get("busy").is_none(), "{}", ms[1]);
    let view = ms[1].get("availabilityView").and_then(Value::as_str).unwrap_or("?");
    assert!(view.chars().all(|c| c == '?'), "an unreadable mailbox reads as unknown, never free: {view}");
}

#[tokio::test]
async fn a_wrong_caldav_password_is_auth_failed_and_not_retried() {
    let adele = demo_people().into_iter().find(|m| m.address.starts_with("adele")).unwrap();
    let radicale = seeded_radicale("caldav-radicale-auth", std::slice::from_ref(&adele)).await;
    let stack = start(RuntimeSettings::default(), |_| {
        format!("[tenants.dav]\nprovider = \"caldav\"\n[tenants.dav.settings]\nbase_url = \"{}\"\nusername = \"{SERVICE_USER}\"\npassword = \"wrong-password\"\n", radicale.url)
    })
    .await;
    // Every poll answers the mailbox as unreadable for that reason, never free; the password
    // is in no answer.
    for _ in 0..3 {
        let answer = freebusy(&stack.api, "dav", &[&adele.address]).await;
        let m = &answer["mailboxes"][0];
        assert_eq!(m["error"]["code"], "auth-failed", "{m}");
        let message = m["error"]["message"].as_str().unwrap();
        assert!(message.contains("not retried") && !message.contains("wrong-password"), "{message}");
        assert!(m.get("busy").is_none(), "{m}");
    }
    let (_, _, health) = get(&format!("{}/v1/tenants/dav/health", stack.api)).await;
    // The credential circuit is open: no more sign-ins until the password is fixed.
    assert!(health.contains(r#""state":"open""#) && health.contains("rejected the credentials"), "{health}");
    assert!(!health.contains("wrong-password"), "{health}");
}

#[tokio::test]
async fn xandikos_answers_its_account_through_the_scheduling_outbox_and_others_per_mailbox() {
    let people = demo_people();
    let adele = people.iter().find(|m| m.address.starts_with("adele")).unwrap();
    let xandikos = Server::xandikos("caldav-xandikos", &adele.address).await;
    let local = adele.address.split('@').next().unwrap();
    caldav::seed(&format!("{}/{local}/calendars/", xandikos.url), "calendar", None, adele).await;
    let radicale = seeded_radicale("caldav-radicale-vs-xandikos", std::slice::from_ref(adele)).await;
    let stack = start(RuntimeSettings::default(), |_| {
        format!(
            "{}{}{}{}",
            caldav_tenant("xandikos", &xandikos.url, "free_busy = \"outbox\""),
            caldav_tenant("xandikos_report", &xandikos.url, "free_busy = \"report\""),
            caldav_tenant("radicale", &radicale.url, ""),
            caldav_tenant("radicale_outbox", &radicale.url, "free_busy = \"outbox\"")
        )
    })
    .await;
    // The check says which way free/busy is read.
    let (_, _, health) = get(&format!("{}/v1/tenants/xandikos/health", stack.api)).await;
    assert!(health.contains("scheduling outbox"), "{health}");

    let outbox = freebusy(&stack.api, "xandikos", &[&adele.address, "megan.bowen@contoso.com"]).await;
    let report = freebusy(&stack.api, "xandikos_report", &[&adele.address]).await;
    let on_radicale = freebusy(&stack.api, "radicale", &[&adele.address]).await;
    // Two servers, two ways of asking, one answer.
    assert_eq!(view(&outbox, 0), view(&on_radicale, 0), "outbox on Xandikos vs REPORT on Radicale");
    assert_eq!(view(&report, 0), view(&on_radicale, 0), "REPORT on Xandikos vs REPORT on Radicale");
    assert!(view(&outbox, 0).contains('1') && view(&outbox, 0).contains('2'));
    // Xandikos has no authority for anyone else (3.8): read by REPORT, where no such principal
    // exists; an error for that mailbox, not free time.
    assert_eq!(outbox["mailboxes"][1]["error"]["code"], "not-found", "{}", outbox["mailboxes"][1]);

    // Radicale has no outbox: insisting on one is refused with the reason, not answered free.
    let forced = freebusy(&stack.api, "radicale_outbox", &[&adele.address]).await;
    let m = &forced["mailboxes"][0];
    assert_eq!(m["error"]["code"], "unsupported", "{m}");
    assert!(m["error"]["message"].as_str().unwrap().contains("no scheduling outbox"), "{m}");
}

#[tokio::test]
async fn the_directory_searches_principals_where_the_server_can() {
    let people = demo_people();
    let adele = people.iter().find(|m| m.address.starts_with("adele")).unwrap();
    let xandikos = Server::xandikos("caldav-xandikos-directory", &adele.address).await;
    let radicale = seeded_radicale("caldav-radicale-directory", std::slice::from_ref(adele)).await;
    let stack = start(RuntimeSettings::default(), |_| {
        format!("{}{}", caldav_tenant("xandikos", &xandikos.url, ""), caldav_tenant("radicale", &radicale.url, ""))
    })
    .await;
    let (status, _, body) = get(&format!("{}/v1/tenants/xandikos/directory?q=adele&kind=person", stack.api)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&adele.address), "{body}");
    // Radicale lists principal-property-search among its reports but answers every search with
    // an empty multistatus (radicale/app/report.py): an empty directory, said as such.
    let (status, _, body) = get(&format!("{}/v1/tenants/radicale/directory?q=adele&kind=person", stack.api)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(&adele.address), "{body}");
}
