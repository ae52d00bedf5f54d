//! The tenant model the emulator answers from: people and rooms with their own time zones and
//! calendars (single, recurring, all-day, tentative, out-of-office, working-elsewhere and private
//! items). Answers are computed from it, so Graph and EWS views of one tenant agree.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// A `showAs` value (Graph freeBusyStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowAs {
    Free,
    Tentative,
    Busy,
    Oof,
    WorkingElsewhere,
}

impl ShowAs {
    /// Graph's JSON spelling (real responses are lower camel case: microsoftgraph/msgraph-metadata#598).
    pub fn graph_name(self) -> &'static str {
        match self {
            ShowAs::Free => "free",
            ShowAs::Tentative => "tentative",
            ShowAs::Busy => "busy",
            ShowAs::Oof => "oof",
            ShowAs::WorkingElsewhere => "workingElsewhere",
        }
    }
}

/// Weekly recurrence.
#[derive(Debug, Clone)]
pub struct Weekly {
    pub days: Vec<Weekday>,
    /// Last date an occurrence may fall on (inclusive); open-ended when `None`.
    pub until: Option<NaiveDate>,
    /// Dates whose occurrence was cancelled.
    pub cancelled: Vec<NaiveDate>,
}

/// One item or recurring series, in the mailbox's local time.
#[derive(Debug, Clone)]
pub struct EventSpec {
    pub subject: String,
    pub location: String,
    pub organizer: String,
    /// Local start (the series' first date for a recurrence).
    pub start: NaiveDateTime,
    /// Local duration (whole days for all-day items).
    pub duration: Duration,
    pub all_day: bool,
    pub show_as: ShowAs,
    pub private: bool,
    pub recurrence: Option<Weekly>,
}

/// An expanded occurrence, as UTC instants.
#[derive(Debug, Clone)]
pub struct Instance {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub show_as: ShowAs,
    pub subject: String,
    pub location: String,
    pub organizer: String,
    pub private: bool,
    pub recurring: bool,
    pub all_day: bool,
}

/// Person or room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Person,
    Room,
}

/// A mailbox of the tenant.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub address: String,
    pub display_name: String,
    pub kind: Kind,
    pub time_zone: Tz,
    /// The Windows name Exchange stores for the mailbox's zone.
    pub windows_zone: &'static str,
    pub work_days: Vec<Weekday>,
    pub work_start: NaiveTime,
    pub work_end: NaiveTime,
    /// Whether this mailbox lets others see subjects and locations (the requested user's calendar
    /// settings decide, even for administrators: https://learn.microsoft.com/graph/outlook-get-free-busy-schedule).
    pub share_details: bool,
    /// Whether this mailbox shares free/busy at all (the default calendar permission does);
    /// when not, EWS answers ErrorNoFreeBusyAccess for it (an availability code of messages.xsd;
    /// https://learn.microsoft.com/exchange/client-developer/web-service-reference/responsecode).
    pub share_free_busy: bool,
    /// Rooms: Exchange's AddOrganizerToSubject/DeleteSubject defaults replace the subject with
    /// the organizer's name (microsoftgraph/microsoft-graph-docs#11649, MicrosoftDocs/OfficeDocs-Support#1860).
    pub organizer_as_subject: bool,
    pub capacity: Option<u32>,
    pub building: Option<String>,
    pub events: Vec<EventSpec>,
}

impl Mailbox {
    /// Every occurrence overlapping `[start, end)`, whole (not clipped), sorted by start.
    pub fn instances(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Instance> {
        let mut out = Vec::new();
        for ev in &self.events {
            for local_start in self.occurrence_starts(ev, start, end) {
                let Some(s) = self.to_utc(local_start) else { continue };
                let Some(e) = self.to_utc(local_start + ev.duration) else { continue };
                if s < end && e > start {
                    let subject = if self.organizer_as_subject { ev.organizer.clone() } else { ev.subject.clone() };
                    out.push(Instance {
                        start: s,
                        end: e,
                        show_as: ev.show_as,
                        subject,
                        location: ev.location.clone(),
                        organizer: ev.organizer.clone(),
                        private: ev.private,
                        recurring: ev.recurrence.is_some(),
                        all_day: ev.all_day,
                    });
                }
            }
        }
        out.sort_by_key(|i| (i.start, i.end));
        out
    }

    fn occurrence_starts(&self, ev: &EventSpec, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<NaiveDateTime> {
        let Some(rule) = &ev.recurrence else { return vec![ev.start] };
        // Local dates that can hold an occurrence overlapping the window, with a day of slack on
        // each side for the zone offset and the item's own length.
        let first =
            (start.with_timezone(&self.time_zone).date_naive() - ev.duration - Duration::days(1)).max(ev.start.date());
        let mut last = end.with_timezone(&self.time_zone).date_naive() + Duration::days(1);
        if let Some(until) = rule.until {
            last = last.min(until);
        }
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| rule.days.contains(&d.weekday()) && !rule.cancelled.contains(d))
            .map(|d| d.and_time(ev.start.time()))
            .collect()
    }

    /// Local wall time to UTC. In the spring-forward gap the time is moved forward by the gap
    /// (what Exchange does with a meeting at a nonexistent local time); in the fall-back overlap
    /// the first occurrence is used.
    fn to_utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut candidate = local;
        for _ in 0..4 {
            if let Some(t) = self.time_zone.from_local_datetime(&candidate).earliest() {
                return Some(t.with_timezone(&Utc));
            }
            candidate += Duration::minutes(30);
        }
        None
    }
}

/// A certificate uploaded to an app registration.
#[derive(Debug, Clone)]
pub struct RegisteredCertificate {
    /// The certificate (DER), whose thumbprints identify it in assertions.
    pub der: Vec<u8>,
    /// Its public key (SubjectPublicKeyInfo DER), to verify assertion signatures.
    pub public_key_der: Vec<u8>,
}

/// An app registration.
#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub display_name: String,
    pub secret: String,
    /// When the secret stops working (AADSTS7000222 afterwards).
    pub secret_expires: DateTime<Utc>,
    /// Microsoft Graph application permissions with admin consent.
    pub roles: Vec<String>,
    /// Office 365 Exchange Online application permissions (`full_access_as_app`).
    pub exchange_roles: Vec<String>,
    /// Certificates accepted instead of the secret.
    pub certificates: Vec<RegisteredCertificate>,
    /// "Allow public client flows": device code and authorization code with PKCE.
    pub public_client: bool,
    /// Consented delegated Microsoft Graph permissions (`Calendars.ReadBasic`, ...).
    pub delegated_scopes: Vec<String>,
    /// Consented delegated Exchange permissions (`EWS.AccessAsUser.All`).
    pub delegated_exchange_scopes: Vec<String>,
}

/// A tenant: directory, apps and mailboxes.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub domain: String,
    pub display_name: String,
    pub apps: Vec<App>,
    pub mailboxes: Vec<Mailbox>,
    /// Accounts EWS accepts with Basic authentication: (user principal name, password).
    pub ews_accounts: Vec<(String, String)>,
    /// `EWSEnabled` (Learn "Control access to EWS in Exchange"): when false, EWS answers HTTP 403, as
    /// Exchange Online did in its pre-retirement "scream tests".
    pub ews_enabled: bool,
    /// Room lists (distribution groups of rooms): (display name, address, room addresses).
    pub room_lists: Vec<(String, String, Vec<String>)>,
}

impl Tenant {
    /// Does `name` (GUID or domain, as in the token URL) name this tenant?
    pub fn answers_to(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name) || self.domain.eq_ignore_ascii_case(name)
    }

    /// Does this Basic-auth user name and password belong to an EWS account? Accepts the UPN and
    /// the `DOMAIN\\user` form.
    pub fn ews_login(&self, user: &str, password: &str) -> bool {
        let netbios = self.domain.split('.').next().unwrap_or_default();
        self.ews_accounts.iter().any(|(upn, pw)| {
            let local = upn.split('@').next().unwrap_or_default();
            let matches_user = upn.eq_ignore_ascii_case(user)
                || user
                    .split_once('\\')
                    .is_some_and(|(d, u)| d.eq_ignore_ascii_case(netbios) && u.eq_ignore_ascii_case(local));
            matches_user && pw == password
        })
    }

    /// A mailbox by SMTP address or object id.
    pub fn mailbox(&self, key: &str) -> Option<&Mailbox> {
        self.mailboxes
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(key) || object_id(&m.address).eq_ignore_ascii_case(key))
    }
}

/// A stable GUID-shaped object id for an address (FNV-1a based; ids only need to be stable).
pub fn object_id(address: &str) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in address.to_ascii_lowercase().bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let hex = format!("{h:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// One digit per `interval_min` slot from `start`: 0 free, 1 tentative, 2 busy, 3 out of office;
/// the highest digit of the items overlapping a slot wins. Working elsewhere is written as 0, by
/// Graph's availabilityView "for backward compatibility" and by EWS's MergedFreeBusy alike
/// (https://learn.microsoft.com/graph/api/resources/scheduleinformation, microsoftgraph/msgraph-metadata#598;
/// https://learn.microsoft.com/exchange/client-developer/web-service-reference/mergedfreebusy,
/// ecederstrand/exchangelib#777).
pub fn merged_digits(items: &[Instance], start: DateTime<Utc>, end: DateTime<Utc>, interval_min: i64) -> String {
    let mut out = String::new();
    let mut slot = start;
    while slot < end {
        let slot_end = (slot + Duration::minutes(interval_min)).min(end);
        let digit = items
            .iter()
            .filter(|i| i.start < slot_end && i.end > slot)
            .map(|i| match i.show_as {
                ShowAs::Free | ShowAs::WorkingElsewhere => 0,
                ShowAs::Tentative => 1,
                ShowAs::Busy => 2,
                ShowAs::Oof => 3,
            })
            .max()
            .unwrap_or(0);
        out.push(char::from(b'0' + digit));
        slot = slot_end;
    }
    out
}
