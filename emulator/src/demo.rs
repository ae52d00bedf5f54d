//! The embedded demo tenant, "Contoso". Its calendars mix open-ended recurring series (so any
//! week of the demo shows something) with dated items in the week of 23 March 2026, which crosses
//! the European daylight-saving change (29 March) and is what the end-to-end tests check.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use crate::tenant::{App, EventSpec, Kind, Mailbox, ShowAs, Tenant, Weekly};

/// The demo tenant's id.
pub const TENANT_ID: &str = "6d3a1f8e-2b47-4c59-9e81-0f2d7c4b5a63";
/// The demo tenant's verified domain.
pub const DOMAIN: &str = "contoso.com";
/// The demo app: Calendars.ReadBasic, User.Read.All and Place.Read.All with admin consent.
pub const CLIENT_ID: &str = "3f9b2c71-8d4e-4a06-b5f3-2e7c1a9d0b84";
/// The demo app's secret. The emulator is a stand-in, so a published demo secret is harmless.
pub const CLIENT_SECRET: &str = "demo~secret~Q8x2.not-a-real-credential";
/// A certificate registered on the demo app, for certificate credentials (client assertions).
/// Published with its key, like the demo secret: it opens nothing but the emulator.
pub const CERTIFICATE_PEM: &str = include_str!("demo-app/app.crt");
/// The demo certificate's private key (PKCS#8 PEM).
pub const CERTIFICATE_KEY_PEM: &str = include_str!("demo-app/app.key");
const CERTIFICATE_PUBLIC_KEY_PEM: &str = include_str!("demo-app/app.pub");

/// An app registration with a client secret, these application permissions (admin consented)
/// and nothing else: no certificate, no public client flows, no delegated or Exchange rights.
fn confidential_app(client_id: &str, name: &str, secret: &str, expires: DateTime<Utc>, roles: &[&str]) -> App {
    App {
        client_id: client_id.into(),
        display_name: name.into(),
        secret: secret.into(),
        secret_expires: expires,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        exchange_roles: vec![],
        certificates: vec![],
        public_client: false,
        delegated_scopes: vec![],
        delegated_exchange_scopes: vec![],
    }
}

/// The DER inside a one-object PEM text.
fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).expect("the demo PEM files are valid")
}
/// An app granted Calendars.Read, which calendarView needs (subjects for every mailbox).
pub const DETAILS_CLIENT_ID: &str = "5d3b1f9e-7c4a-4e2b-9f0d-6a8c2e4b1d3f";
/// Its secret.
pub const DETAILS_CLIENT_SECRET: &str = "details~secret~not-a-real-credential";
/// An app whose secret expired (AADSTS7000222).
pub const EXPIRED_CLIENT_ID: &str = "a1c4e6f8-0b2d-4f6a-8c0e-2a4c6e8f0b2d";
/// The EWS service account (Basic authentication on premises).
pub const EWS_USER: &str = "svc-freebusy@contoso.com";
/// Its password (an emulator-only demo value).
pub const EWS_PASSWORD: &str = "demo~ews~Passw0rd";
/// An app registered without any admin-consented permission (Graph answers 403).
pub const UNCONSENTED_CLIENT_ID: &str = "b7d9f1a3-5c7e-4b9d-a1f3-5c7e9b1d3f5a";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid demo date")
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid demo time")
}

fn weekdays() -> Vec<Weekday> {
    vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
}

struct Cal(Vec<EventSpec>);

impl Cal {
    fn new() -> Self {
        Cal(Vec::new())
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        mut self,
        subject: &str,
        day: NaiveDate,
        at: NaiveTime,
        minutes: i64,
        show_as: ShowAs,
        organizer: &str,
        recurrence: Option<Weekly>,
    ) -> Self {
        self.0.push(EventSpec {
            subject: subject.into(),
            location: if subject.contains("call") { "Microsoft Teams Meeting".into() } else { "Office".into() },
            organizer: organizer.into(),
            start: day.and_time(at),
            duration: Duration::minutes(minutes),
            all_day: false,
            show_as,
            private: false,
            recurrence,
        });
        self
    }

    fn all_day(mut self, subject: &str, first: NaiveDate, days: i64, show_as: ShowAs, organizer: &str) -> Self {
        self.0.push(EventSpec {
            subject: subject.into(),
            location: String::new(),
            organizer: organizer.into(),
            start: first.and_time(hm(0, 0)),
            duration: Duration::days(days),
            all_day: true,
            show_as,
            private: false,
            recurrence: None,
        });
        self
    }

    fn private(mut self) -> Self {
        if let Some(last) = self.0.last_mut() {
            last.private = true;
        }
        self
    }
}

fn weekly(days: Vec<Weekday>, until: Option<NaiveDate>, cancelled: Vec<NaiveDate>) -> Option<Weekly> {
    Some(Weekly { days, until, cancelled })
}

struct Person {
    local: &'static str,
    name: &'static str,
    tz: Tz,
    windows_zone: &'static str,
    hours: (NaiveTime, NaiveTime),
}

fn person(p: Person, share_details: bool, cal: Cal) -> Mailbox {
    Mailbox {
        address: format!("{}@{DOMAIN}", p.local),
        display_name: p.name.into(),
        kind: Kind::Person,
        time_zone: p.tz,
        windows_zone: p.windows_zone,
        work_days: weekdays(),
        work_start: p.hours.0,
        work_end: p.hours.1,
        share_details,
        share_free_busy: true,
        organizer_as_subject: false,
        capacity: None,
        building: None,
        events: cal.0,
    }
}

fn room(
    local: &str,
    name: &str,
    tz: Tz,
    windows_zone: &'static str,
    capacity: u32,
    building: &str,
    cal: Cal,
) -> Mailbox {
    Mailbox {
        address: format!("{local}@{DOMAIN}"),
        display_name: name.into(),
        kind: Kind::Room,
        time_zone: tz,
        windows_zone,
        work_days: weekdays(),
        work_start: hm(8, 0),
        work_end: hm(17, 0),
        share_details: true,
        share_free_busy: true,
        organizer_as_subject: true,
        capacity: Some(capacity),
        building: Some(building.into()),
        events: cal.0,
    }
}

/// The demo tenant: its recurring series, the dated week of 23 March 2026 the tests read, and a
/// working week around the day the emulator starts (so the demo looks alive today).
pub fn tenant() -> Tenant {
    let mut t = base_tenant();
    if let Some(monday) = demo_week(Utc::now().date_naive()) {
        add_week(&mut t, monday);
    }
    t
}

fn base_tenant() -> Tenant {
    use ShowAs::*;
    let far_future = DateTime::<Utc>::from_timestamp(4_102_444_800, 0).expect("2100-01-01");
    let since = date(2025, 1, 6);
    let mon = vec![Weekday::Mon];
    let tue_thu = vec![Weekday::Tue, Weekday::Thu];

    let adele = person(
        Person {
            local: "adele.vance",
            name: "Adele Vance",
            tz: chrono_tz::Europe::Berlin,
            windows_zone: "W. Europe Standard Time",
            hours: (hm(8, 0), hm(17, 0)),
        },
        true,
        Cal::new()
            .add(
                "Daily stand-up",
                since,
                hm(9, 0),
                15,
                Busy,
                "Adele Vance",
                weekly(weekdays(), None, vec![date(2026, 3, 26)]),
            )
            .all_day("Team offsite", date(2026, 3, 25), 1, Busy, "Adele Vance")
            .add("Design review", date(2026, 3, 27), hm(13, 0), 60, Tentative, "Megan Bowen", None)
            .add("Dentist", date(2026, 3, 30), hm(15, 0), 60, Busy, "Adele Vance", None)
            .private(),
    );
    let megan = person(
        Person {
            local: "megan.bowen",
            name: "Megan Bowen",
            tz: chrono_tz::America::New_York,
            windows_zone: "Eastern Standard Time",
            hours: (hm(9, 0), hm(17, 0)),
        },
        true,
        Cal::new()
            .add(
                "Sales sync",
                date(2025, 9, 1),
                hm(10, 0),
                60,
                Busy,
                "Megan Bowen",
                weekly(vec![Weekday::Mon, Weekday::Thu], None, vec![]),
            )
            .all_day("Vacation", date(2026, 3, 24), 2, Oof, "Megan Bowen")
            .add("Customer call", date(2026, 3, 26), hm(10, 30), 60, Tentative, "Alex Wilber", None)
            .all_day("Working from the Boston office", date(2026, 3, 27), 1, WorkingElsewhere, "Megan Bowen"),
    );
    let pradeep = person(
        Person {
            local: "pradeep.gupta",
            name: "Pradeep Gupta",
            tz: chrono_tz::Asia::Kolkata,
            windows_zone: "India Standard Time",
            hours: (hm(9, 30), hm(18, 30)),
        },
        false,
        Cal::new()
            .add(
                "Build review",
                date(2026, 1, 5),
                hm(17, 30),
                30,
                Busy,
                "Pradeep Gupta",
                weekly(weekdays(), Some(date(2026, 3, 27)), vec![]),
            )
            .add("Quarterly planning", date(2026, 3, 24), hm(14, 0), 180, Busy, "Lidia Holloway", None),
    );
    let alex = person(
        Person {
            local: "alex.wilber",
            name: "Alex Wilber",
            tz: chrono_tz::America::Los_Angeles,
            windows_zone: "Pacific Standard Time",
            hours: (hm(8, 0), hm(17, 0)),
        },
        true,
        Cal::new()
            .add("Pipeline review", since, hm(8, 30), 60, Busy, "Alex Wilber", weekly(tue_thu.clone(), None, vec![]))
            .add(
                "Lunch & learn",
                since,
                hm(12, 0),
                60,
                Tentative,
                "Patti Fernandez",
                weekly(vec![Weekday::Wed], None, vec![]),
            ),
    );
    let diego = person(
        Person {
            local: "diego.siciliani",
            name: "Diego Siciliani",
            tz: chrono_tz::Europe::London,
            windows_zone: "GMT Standard Time",
            hours: (hm(9, 0), hm(17, 30)),
        },
        true,
        Cal::new()
            .add(
                "Finance close",
                since,
                hm(14, 0),
                120,
                Busy,
                "Diego Siciliani",
                weekly(vec![Weekday::Fri], None, vec![]),
            )
            .add(
                "Focus time",
                since,
                hm(9, 0),
                120,
                Busy,
                "Diego Siciliani",
                weekly(vec![Weekday::Mon, Weekday::Wed], None, vec![]),
            ),
    );
    let johanna = person(
        Person {
            local: "johanna.lorenz",
            name: "Johanna Lorenz",
            tz: chrono_tz::Europe::Berlin,
            windows_zone: "W. Europe Standard Time",
            hours: (hm(7, 30), hm(16, 0)),
        },
        true,
        Cal::new()
            .add("Engineering sync", since, hm(11, 0), 45, Busy, "Johanna Lorenz", weekly(weekdays(), None, vec![]))
            .add(
                "Home office",
                since,
                hm(8, 0),
                480,
                WorkingElsewhere,
                "Johanna Lorenz",
                weekly(vec![Weekday::Fri], None, vec![]),
            ),
    );
    let lee = person(
        Person {
            local: "lee.gu",
            name: "Lee Gu",
            tz: chrono_tz::Asia::Tokyo,
            windows_zone: "Tokyo Standard Time",
            hours: (hm(9, 0), hm(18, 0)),
        },
        true,
        Cal::new().add("Partner call", since, hm(16, 0), 60, Busy, "Lee Gu", weekly(tue_thu.clone(), None, vec![])),
    );
    let lidia = person(
        Person {
            local: "lidia.holloway",
            name: "Lidia Holloway",
            tz: chrono_tz::America::Chicago,
            windows_zone: "Central Standard Time",
            hours: (hm(8, 0), hm(16, 30)),
        },
        true,
        Cal::new()
            .add("Leadership team", since, hm(10, 0), 90, Busy, "Lidia Holloway", weekly(mon.clone(), None, vec![]))
            .add(
                "1:1 with manager",
                since,
                hm(15, 0),
                30,
                Busy,
                "Lidia Holloway",
                weekly(vec![Weekday::Thu], None, vec![]),
            )
            .private(),
    );
    let nestor = person(
        Person {
            local: "nestor.wilke",
            name: "Nestor Wilke",
            tz: chrono_tz::Australia::Sydney,
            windows_zone: "AUS Eastern Standard Time",
            hours: (hm(8, 30), hm(17, 0)),
        },
        true,
        Cal::new().add("Ops review", since, hm(9, 0), 60, Busy, "Nestor Wilke", weekly(weekdays(), None, vec![])),
    );
    let patti = person(
        Person {
            local: "patti.fernandez",
            name: "Patti Fernandez",
            tz: chrono_tz::America::Sao_Paulo,
            windows_zone: "E. South America Standard Time",
            hours: (hm(9, 0), hm(18, 0)),
        },
        true,
        Cal::new()
            .add("Marketing stand-up", since, hm(9, 30), 15, Busy, "Patti Fernandez", weekly(weekdays(), None, vec![]))
            .add(
                "Agency call",
                since,
                hm(15, 0),
                60,
                Tentative,
                "Patti Fernandez",
                weekly(vec![Weekday::Wed], None, vec![]),
            ),
    );
    let adams = room(
        "room.adams",
        "Conference Room Adams",
        chrono_tz::Europe::Berlin,
        "W. Europe Standard Time",
        12,
        "Building 1",
        Cal::new()
            .add("All hands", date(2025, 1, 6), hm(10, 0), 60, Busy, "Adele Vance", weekly(mon.clone(), None, vec![]))
            .add("Workshop", date(2026, 3, 26), hm(13, 0), 240, Busy, "Johanna Lorenz", None),
    );
    let baker = room(
        "room.baker",
        "Conference Room Baker",
        chrono_tz::America::New_York,
        "Eastern Standard Time",
        8,
        "Building 2",
        Cal::new().add("Sales huddle", since, hm(9, 0), 30, Busy, "Megan Bowen", weekly(weekdays(), None, vec![])),
    );
    let crystal = room(
        "room.crystal",
        "Crystal Boardroom",
        chrono_tz::Asia::Tokyo,
        "Tokyo Standard Time",
        20,
        "Tokyo office",
        Cal::new().add("Board prep", since, hm(13, 0), 120, Busy, "Lee Gu", weekly(tue_thu, None, vec![])),
    );
    Tenant {
        id: TENANT_ID.into(),
        domain: DOMAIN.into(),
        display_name: "Contoso".into(),
        apps: vec![
            App {
                client_id: CLIENT_ID.into(),
                display_name: "freebusy demo".into(),
                secret: CLIENT_SECRET.into(),
                secret_expires: far_future,
                roles: vec!["Calendars.ReadBasic".into(), "User.Read.All".into(), "Place.Read.All".into()],
                exchange_roles: vec!["full_access_as_app".into()],
                certificates: vec![crate::tenant::RegisteredCertificate {
                    der: pem_der(CERTIFICATE_PEM),
                    public_key_der: pem_der(CERTIFICATE_PUBLIC_KEY_PEM),
                }],
                public_client: true,
                delegated_scopes: vec!["Calendars.ReadBasic".into(), "User.ReadBasic.All".into()],
                delegated_exchange_scopes: vec!["EWS.AccessAsUser.All".into()],
            },
            confidential_app(
                DETAILS_CLIENT_ID,
                "booking tool (reads subjects)",
                DETAILS_CLIENT_SECRET,
                far_future,
                &["Calendars.Read"],
            ),
            confidential_app(
                EXPIRED_CLIENT_ID,
                "old room panel",
                "expired~secret",
                DateTime::<Utc>::from_timestamp(1_735_689_600, 0).expect("2025-01-01"),
                &["Calendars.Read"],
            ),
            confidential_app(UNCONSENTED_CLIENT_ID, "awaiting consent", "unconsented~secret", far_future, &[]),
        ],
        mailboxes: vec![adele, megan, pradeep, alex, diego, johanna, lee, lidia, nestor, patti, adams, baker, crystal],
        ews_accounts: vec![(EWS_USER.into(), EWS_PASSWORD.into())],
        ews_enabled: true,
        room_lists: vec![
            ("Berlin rooms".into(), format!("rooms.berlin@{DOMAIN}"), vec![format!("room.adams@{DOMAIN}")]),
            ("Americas rooms".into(), format!("rooms.americas@{DOMAIN}"), vec![format!("room.baker@{DOMAIN}")]),
            ("Tokyo rooms".into(), format!("rooms.tokyo@{DOMAIN}"), vec![format!("room.crystal@{DOMAIN}")]),
        ],
    }
}

/// The working week the demo shows today: this week's Monday to Friday (next week's on a
/// weekend), or none while "today" lies in the dated weeks the tests read (before April 2026).
fn demo_week(today: NaiveDate) -> Option<NaiveDate> {
    if today < date(2026, 4, 6) {
        return None;
    }
    let from_monday = i64::from(today.weekday().num_days_from_monday());
    Some(if from_monday >= 5 { today + Duration::days(7 - from_monday) } else { today - Duration::days(from_monday) })
}

/// The Monday of the week the demo shows (see [`demo_week`]), for the demo's printed links.
pub fn demo_monday(today: NaiveDate) -> NaiveDate {
    demo_week(today).unwrap_or(date(2026, 3, 23))
}

/// A plausible working week relative to `monday`, in each mailbox's own zone: meetings, lunches,
/// a room booked back to back, someone out of office, a tentative hold, a private meeting.
fn add_week(tenant: &mut Tenant, monday: NaiveDate) {
    use ShowAs::*;
    let day = |d: i64| monday + Duration::days(d);
    let mut add = |local: &str, cal: Cal| {
        if let Some(m) = tenant.mailboxes.iter_mut().find(|m| m.address.starts_with(&format!("{local}@"))) {
            m.events.extend(cal.0);
        }
    };
    let lunches = |cal: Cal, at: NaiveTime, organizer: &str| {
        (0..5).fold(cal, |c, d| c.add("Lunch", day(d), at, 45, Busy, organizer, None))
    };
    add(
        "adele.vance",
        lunches(
            Cal::new()
                .add("Roadmap review", day(0), hm(10, 0), 90, Busy, "Adele Vance", None)
                .add("Design sync", day(1), hm(14, 0), 60, Busy, "Megan Bowen", None)
                .add("Hold: partner call", day(2), hm(15, 0), 60, Tentative, "Adele Vance", None)
                .add("1:1 with Johanna", day(3), hm(16, 0), 30, Busy, "Adele Vance", None)
                .private()
                .add("Hiring panel", day(4), hm(9, 30), 60, Busy, "Patti Fernandez", None),
            hm(12, 30),
            "Adele Vance",
        ),
    );
    add(
        "megan.bowen",
        lunches(Cal::new(), hm(12, 0), "Megan Bowen")
            .add("Pipeline review", day(0), hm(11, 0), 60, Busy, "Megan Bowen", None)
            .add("Customer demo", day(1), hm(13, 0), 60, Tentative, "Alex Wilber", None)
            .all_day("Vacation", day(2), 2, Oof, "Megan Bowen"),
    );
    add(
        "johanna.lorenz",
        lunches(Cal::new(), hm(12, 0), "Johanna Lorenz")
            .add("Roadmap review", day(0), hm(10, 0), 90, Busy, "Adele Vance", None)
            .add("1:1 with Adele", day(3), hm(16, 0), 30, Busy, "Adele Vance", None)
            .private(),
    );
    add(
        "pradeep.gupta",
        Cal::new().add("Sprint planning", day(1), hm(10, 0), 120, Busy, "Pradeep Gupta", None).add(
            "Architecture review",
            day(3),
            hm(15, 0),
            60,
            Busy,
            "Lidia Holloway",
            None,
        ),
    );
    add(
        "diego.siciliani",
        Cal::new().add("Budget check-in", day(0), hm(13, 0), 60, Busy, "Diego Siciliani", None).add(
            "Vendor call",
            day(2),
            hm(10, 0),
            60,
            Tentative,
            "Diego Siciliani",
            None,
        ),
    );
    add(
        "room.adams",
        Cal::new()
            .add("Roadmap review", day(0), hm(10, 0), 90, Busy, "Adele Vance", None)
            .add("Interviews", day(1), hm(9, 0), 60, Busy, "Patti Fernandez", None)
            .add("Interviews", day(1), hm(10, 0), 60, Busy, "Patti Fernandez", None)
            .add("Interviews", day(1), hm(11, 0), 60, Busy, "Patti Fernandez", None)
            .add("Hiring panel", day(4), hm(9, 30), 60, Busy, "Patti Fernandez", None),
    );
    add(
        "room.baker",
        Cal::new().add("Pipeline review", day(0), hm(11, 0), 60, Busy, "Megan Bowen", None).add(
            "Customer demo",
            day(1),
            hm(13, 0),
            60,
            Busy,
            "Alex Wilber",
            None,
        ),
    );
    add("room.crystal", Cal::new().add("Offsite prep", day(2), hm(10, 0), 120, Busy, "Lee Gu", None));
}

/// The demo tenant plus `extra` generated people (`person1@contoso.com`, ...), each with a daily
/// stand-up and a weekly meeting in one of several zones: for measurements at scale.
pub fn scaled(extra: usize) -> Tenant {
    use ShowAs::*;
    let zones = [
        (chrono_tz::Europe::Berlin, "W. Europe Standard Time"),
        (chrono_tz::America::New_York, "Eastern Standard Time"),
        (chrono_tz::Asia::Tokyo, "Tokyo Standard Time"),
        (chrono_tz::Asia::Kolkata, "India Standard Time"),
    ];
    let mut tenant = tenant();
    for i in 1..=extra {
        let (tz, windows_zone) = zones[i % zones.len()];
        let local = format!("person{i}");
        let name = format!("Person {i}");
        let cal = Cal::new()
            .add(
                "Stand-up",
                date(2025, 1, 6),
                hm(9, (i % 4) as u32 * 15),
                15,
                Busy,
                &name,
                weekly(weekdays(), None, vec![]),
            )
            .add(
                "Weekly sync",
                date(2025, 1, 6),
                hm(14, 0),
                60,
                Tentative,
                &name,
                weekly(vec![Weekday::Wed], None, vec![]),
            );
        let mut m = person(Person { local: "x", name: "x", tz, windows_zone, hours: (hm(9, 0), hm(17, 0)) }, true, cal);
        m.address = format!("{local}@{DOMAIN}");
        m.display_name = name;
        tenant.mailboxes.push(m);
    }
    tenant
}

/// The second customer tenant, "Fabrikam": other people and a room, none of them Contoso's. It
/// has no app of its own; the vendor's multi-tenant app reads it once its admin consents.
pub const FABRIKAM_TENANT_ID: &str = "9c1e7b3d-4f2a-4d8e-b6a0-3e5f7c9d1b2a";
/// Fabrikam's verified domain.
pub const FABRIKAM_DOMAIN: &str = "fabrikam.com";

/// A SaaS vendor's multi-tenant app (registered in the vendor's own directory): customers'
/// admins consent to it, after which it reads their free/busy with application permissions.
pub const VENDOR_CLIENT_ID: &str = "e4a2c6b8-1d3f-4a5b-9c7d-8e0f2a4b6c8d";
/// Its secret (an emulator-only demo value).
pub const VENDOR_CLIENT_SECRET: &str = "vendor~secret~not-a-real-credential";

/// The vendor's app: it asks for Calendars.ReadBasic, and may redirect admins back to any
/// loopback address (tests and demos pick free ports).
pub fn vendor_app() -> crate::consent::MultiTenantApp {
    crate::consent::MultiTenantApp {
        client_id: VENDOR_CLIENT_ID.into(),
        display_name: "Booking vendor (multi-tenant)".into(),
        secret: VENDOR_CLIENT_SECRET.into(),
        requested_roles: vec!["Calendars.ReadBasic".into()],
        redirect_prefixes: vec!["http://127.0.0.1:".into(), "http://localhost:".into()],
    }
}

/// Fabrikam, with its own people and one room.
pub fn fabrikam() -> Tenant {
    use ShowAs::*;
    let since = date(2025, 1, 6);
    let at_fabrikam = |mut m: Mailbox| {
        m.address = m.address.replace(DOMAIN, FABRIKAM_DOMAIN);
        m
    };
    let people = [
        ("kenji.sato", "Kenji Sato", chrono_tz::Asia::Tokyo, "Tokyo Standard Time", "Design crit", hm(11, 0)),
        ("ines.garcia", "Inés García", chrono_tz::Europe::Madrid, "Romance Standard Time", "Ops review", hm(10, 0)),
        ("sam.okafor", "Sam Okafor", chrono_tz::Africa::Lagos, "W. Central Africa Standard Time", "Standup", hm(9, 0)),
    ];
    let mut mailboxes: Vec<Mailbox> = people
        .into_iter()
        .map(|(local, name, tz, windows_zone, meeting, at)| {
            let cal = Cal::new().add(meeting, since, at, 60, Busy, name, weekly(weekdays(), None, vec![]));
            at_fabrikam(person(Person { local, name, tz, windows_zone, hours: (hm(9, 0), hm(17, 0)) }, true, cal))
        })
        .collect();
    mailboxes.push(at_fabrikam(room(
        "room.harbour",
        "Harbour Room",
        chrono_tz::Europe::Madrid,
        "Romance Standard Time",
        6,
        "Madrid office",
        Cal::new().add(
            "Client visit",
            since,
            hm(14, 0),
            90,
            Busy,
            "Inés García",
            weekly(vec![Weekday::Wed], None, vec![]),
        ),
    )));
    Tenant {
        id: FABRIKAM_TENANT_ID.into(),
        domain: FABRIKAM_DOMAIN.into(),
        display_name: "Fabrikam".into(),
        apps: Vec::new(),
        mailboxes,
        ews_accounts: Vec::new(),
        ews_enabled: true,
        room_lists: Vec::new(),
    }
}

#[cfg(test)]
mod week_tests {
    use super::*;

    #[test]
    fn the_demo_week_is_this_week_or_next_on_a_weekend_and_never_the_tests_weeks() {
        assert_eq!(demo_week(date(2026, 12, 1)), Some(date(2026, 11, 30)), "a Tuesday: this week");
        assert_eq!(demo_week(date(2026, 12, 5)), Some(date(2026, 12, 7)), "a Saturday: next week");
        assert_eq!(demo_week(date(2026, 3, 25)), None, "the dated test weeks stay as they are");
        let mut t = base_tenant();
        add_week(&mut t, date(2026, 11, 30));
        let adele = t.mailboxes.iter().find(|m| m.address.starts_with("adele.vance@")).unwrap();
        let review = adele.events.iter().find(|e| e.subject == "Roadmap review").unwrap();
        assert_eq!(review.start, date(2026, 11, 30).and_time(hm(10, 0)));
        let room = t.mailboxes.iter().find(|m| m.address.starts_with("room.adams@")).unwrap();
        assert_eq!(room.events.iter().filter(|e| e.subject == "Interviews").count(), 3, "booked back to back");
        let private = adele.events.iter().find(|e| e.subject == "1:1 with Johanna").unwrap();
        assert!(private.private);
    }
}
