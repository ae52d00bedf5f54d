//! The GetUserAvailability request, written with quick-xml so that every address and value is
//! escaped. Shape from messages.xsd/types.xsd (as copied in jamesiarmes/php-ews src/assets/) and
//! https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation.

use quick_xml::events::BytesText;
use quick_xml::Writer;

const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";

/// What to ask.
pub struct AvailabilityRequest<'a> {
    /// `RequestServerVersion`: Exchange2013 or later, so WorkingElsewhere is returned.
    pub server_version: &'a str,
    /// App-only OAuth: the mailbox to impersonate (`ExchangeImpersonation`).
    pub impersonate: Option<&'a str>,
    pub mailboxes: &'a [String],
    /// Window start and end as UTC wall-clock text (`YYYY-MM-DDTHH:MM:SS`).
    pub start: &'a str,
    pub end: &'a str,
    /// `Detailed` (subjects where allowed) or `FreeBusy`, each `...Merged` to also get the
    /// merged string.
    pub view: RequestedView,
    /// `MergedFreeBusyIntervalInMinutes` (5..=1440, not longer than the window).
    pub merged_interval_minutes: u32,
}

/// The `FreeBusyViewType` a request asks for
/// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/freebusyviewoptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedView {
    /// Subjects and locations where the mailbox shares them.
    pub detailed: bool,
    /// The MergedFreeBusy string as well.
    pub merged: bool,
}

impl RequestedView {
    /// The schema's name for this view.
    pub fn name(self) -> &'static str {
        match (self.detailed, self.merged) {
            (false, false) => "FreeBusy",
            (false, true) => "FreeBusyMerged",
            (true, false) => "Detailed",
            (true, true) => "DetailedMerged",
        }
    }
}

type W = Writer<Vec<u8>>;

fn text(w: &mut W, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(value))?;
    Ok(())
}

/// A SerializableTimeZone for UTC: bias 0 and identical standard and daylight periods, so the
/// server's answers are UTC wall-clock times (times come back in the request's zone:
/// https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation).
fn utc_time_zone(w: &mut W) -> std::io::Result<()> {
    w.create_element("t:TimeZone").write_inner_content(|w| {
        text(w, "t:Bias", "0")?;
        for period in ["t:StandardTime", "t:DaylightTime"] {
            w.create_element(period).write_inner_content(|w| {
                text(w, "t:Bias", "0")?;
                text(w, "t:Time", "00:00:00")?;
                text(w, "t:DayOrder", "1")?;
                text(w, "t:Month", "1")?;
                text(w, "t:DayOfWeek", "Sunday")
            })?;
        }
        Ok(())
    })?;
    Ok(())
}

/// A SOAP envelope with the request headers and `body` writing the operation element.
fn envelope(
    server_version: &str,
    impersonate: Option<&str>,
    body: impl FnOnce(&mut W) -> std::io::Result<()>,
) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    w.get_mut().extend_from_slice(br#"<?xml version="1.0" encoding="utf-8"?>"#);
    let written = w
        .create_element("soap:Envelope")
        .with_attributes([("xmlns:soap", SOAP), ("xmlns:t", TYPES), ("xmlns:m", MESSAGES)])
        .write_inner_content(|w| {
            w.create_element("soap:Header").write_inner_content(|w| {
                w.create_element("t:RequestServerVersion").with_attribute(("Version", server_version)).write_empty()?;
                if let Some(mailbox) = impersonate {
                    w.create_element("t:ExchangeImpersonation").write_inner_content(|w| {
                        w.create_element("t:ConnectingSID")
                            .write_inner_content(|w| text(w, "t:SmtpAddress", mailbox))?;
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
            w.create_element("soap:Body").write_inner_content(body)?;
            Ok(())
        });
    written.expect("writing to a Vec cannot fail");
    w.into_inner()
}

/// GetUserAvailability.
pub fn get_user_availability(req: &AvailabilityRequest) -> Vec<u8> {
    envelope(req.server_version, req.impersonate, |w| {
        w.create_element("m:GetUserAvailabilityRequest").write_inner_content(|w| {
            utc_time_zone(w)?;
            w.create_element("m:MailboxDataArray").write_inner_content(|w| {
                for mailbox in req.mailboxes {
                    w.create_element("t:MailboxData").write_inner_content(|w| {
                        w.create_element("t:Email").write_inner_content(|w| text(w, "t:Address", mailbox))?;
                        text(w, "t:AttendeeType", "Required")?;
                        text(w, "t:ExcludeConflicts", "false")
                    })?;
                }
                Ok(())
            })?;
            w.create_element("t:FreeBusyViewOptions").write_inner_content(|w| {
                w.create_element("t:TimeWindow").write_inner_content(|w| {
                    text(w, "t:StartTime", req.start)?;
                    text(w, "t:EndTime", req.end)
                })?;
                text(w, "t:MergedFreeBusyIntervalInMinutes", &req.merged_interval_minutes.to_string())?;
                text(w, "t:RequestedView", req.view.name())
            })?;
            Ok(())
        })?;
        Ok(())
    })
}

/// ResolveNames against the directory only (no personal contacts).
pub fn resolve_names(server_version: &str, impersonate: Option<&str>, prefix: &str) -> Vec<u8> {
    envelope(server_version, impersonate, |w| {
        w.create_element("m:ResolveNames")
            .with_attributes([("ReturnFullContactData", "false"), ("SearchScope", "ActiveDirectory")])
            .write_inner_content(|w| text(w, "m:UnresolvedEntry", prefix))?;
        Ok(())
    })
}

/// GetRoomLists.
pub fn get_room_lists(server_version: &str, impersonate: Option<&str>) -> Vec<u8> {
    envelope(server_version, impersonate, |w| {
        w.create_element("m:GetRoomLists").write_empty()?;
        Ok(())
    })
}

/// GetRooms of one room list.
pub fn get_rooms(server_version: &str, impersonate: Option<&str>, room_list: &str) -> Vec<u8> {
    envelope(server_version, impersonate, |w| {
        w.create_element("m:GetRooms").write_inner_content(|w| {
            w.create_element("m:RoomList").write_inner_content(|w| text(w, "t:EmailAddress", room_list))?;
            Ok(())
        })?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_escaped_and_impersonation_is_optional() {
        let mailboxes = vec!["o'neil&co@contoso.com".to_string()];
        let req = AvailabilityRequest {
            server_version: "Exchange2013",
            impersonate: None,
            mailboxes: &mailboxes,
            start: "2026-03-23T00:00:00",
            end: "2026-03-24T00:00:00",
            view: RequestedView { detailed: false, merged: false },
            merged_interval_minutes: 30,
        };
        let xml = String::from_utf8(get_user_availability(&req)).unwrap();
        assert!(xml.contains("<t:Address>o&apos;neil&amp;co@contoso.com</t:Address>"), "{xml}");
        assert!(!xml.contains("ExchangeImpersonation"));
        assert!(xml.contains("<t:RequestedView>FreeBusy</t:RequestedView>"));
    }
}
