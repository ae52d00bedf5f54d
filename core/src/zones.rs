//! Windows time-zone names (what Exchange and Graph report, e.g. in `workingHours`) to IANA
//! names (what everything else uses), and back.
//!
//! The pairs are the "001" (primary) territory mappings of Unicode CLDR's `windowZones.xml`,
//! with modern IANA canonical names (Asia/Kolkata, not Asia/Calcutta). No crate that also builds
//! for wasm32-wasip2 ships this table, so it lives here.

/// (Windows name, IANA name), primary mappings.
const PRIMARY: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC-11", "Etc/GMT+11"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    // Zones sharing rules keep the most used one first: recognising a zone from its rules
    // (EWS working hours) takes the first match.
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time", "America/Denver"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Eastern Standard Time", "America/New_York"),
    ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("Greenland Standard Time", "America/Nuuk"),
    ("UTC-02", "Etc/GMT+2"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Middle East Standard Time", "Asia/Beirut"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Central Asia Standard Time", "Asia/Almaty"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Myanmar Standard Time", "Asia/Yangon"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Tonga Standard Time", "Pacific/Tongatapu"),
    ("Samoa Standard Time", "Pacific/Apia"),
    ("Line Islands Standard Time", "Pacific/Kiritimati"),
];

/// IANA zones that are not the primary zone of their Windows zone (CLDR territory mappings and
/// old IANA names), so that `iana_to_windows` answers for them too.
const SECONDARY: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("UTC", "Etc/GMT"),
    ("GMT Standard Time", "Europe/Dublin"),
    ("GMT Standard Time", "Europe/Lisbon"),
    ("W. Europe Standard Time", "Europe/Amsterdam"),
    ("W. Europe Standard Time", "Europe/Rome"),
    ("W. Europe Standard Time", "Europe/Stockholm"),
    ("W. Europe Standard Time", "Europe/Vienna"),
    ("W. Europe Standard Time", "Europe/Zurich"),
    ("W. Europe Standard Time", "Europe/Oslo"),
    ("Romance Standard Time", "Europe/Madrid"),
    ("Romance Standard Time", "Europe/Brussels"),
    ("Romance Standard Time", "Europe/Copenhagen"),
    ("Central Europe Standard Time", "Europe/Prague"),
    ("FLE Standard Time", "Europe/Helsinki"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Athens"),
    ("India Standard Time", "Asia/Calcutta"),
    ("China Standard Time", "Asia/Hong_Kong"),
    ("Eastern Standard Time", "America/Toronto"),
    ("Eastern Standard Time", "America/Detroit"),
    ("Pacific Standard Time", "America/Vancouver"),
    ("Central Standard Time", "America/Winnipeg"),
    ("Mountain Standard Time", "America/Edmonton"),
    ("AUS Eastern Standard Time", "Australia/Melbourne"),
    ("US Eastern Standard Time", "America/Indianapolis"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
    ("Greenland Standard Time", "America/Godthab"),
    ("Myanmar Standard Time", "Asia/Rangoon"),
    ("Nepal Standard Time", "Asia/Katmandu"),
];

/// Every IANA zone of the primary table, in table order (one per Windows zone).
pub fn primary_iana_zones() -> impl Iterator<Item = &'static str> {
    PRIMARY.iter().map(|(_, iana)| *iana)
}

/// The IANA name for a Windows zone name (case-insensitive), if known. An IANA name passed in
/// is returned as it is, because Graph also reports IANA names.
pub fn windows_to_iana(windows: &str) -> Option<&'static str> {
    let name = windows.trim();
    PRIMARY
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(name))
        .map(|(_, iana)| *iana)
        .or_else(|| PRIMARY.iter().chain(SECONDARY).find(|(_, iana)| *iana == name).map(|(_, iana)| *iana))
}

/// The Windows name for an IANA zone, if known.
pub fn iana_to_windows(iana: &str) -> Option<&'static str> {
    PRIMARY.iter().chain(SECONDARY).find(|(_, i)| *i == iana).map(|(w, _)| *w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_names_graph_reports() {
        assert_eq!(windows_to_iana("Pacific Standard Time"), Some("America/Los_Angeles"));
        assert_eq!(windows_to_iana("W. Europe Standard Time"), Some("Europe/Berlin"));
        assert_eq!(windows_to_iana("tokyo standard time"), Some("Asia/Tokyo"));
        assert_eq!(windows_to_iana("UTC"), Some("Etc/UTC"));
        assert_eq!(windows_to_iana("Europe/Amsterdam"), Some("Europe/Amsterdam"));
        assert_eq!(windows_to_iana("Customized Time Zone"), None);
    }

    #[test]
    fn round_trips_every_primary_zone() {
        for (w, i) in PRIMARY {
            assert_eq!(iana_to_windows(i), Some(*w));
            assert_eq!(windows_to_iana(w), Some(*i));
        }
        assert_eq!(iana_to_windows("Europe/Zurich"), Some("W. Europe Standard Time"));
    }
}
