//! Fidelity from the other side: exchangelib (a widely used EWS client from PyPI), unchanged,
//! pointed at the emulator with Basic auth and a fixed server version, gets the free/busy the
//! tenant model implies. It first calls GetServerTimeZones and reads the ServerVersionInfo
//! header, then sends GetUserAvailability in Europe/Berlin time.
//!
//! Needs `python3` with `exchangelib` (scripts/test installs it); says so and passes otherwise.

use freebusy_emulator::{demo, Emulator};
use freebusy_tests::{repo_root, require, soap_body_element, validating_options, xmllint};

#[tokio::test]
async fn exchangelib_gets_the_tenant_models_free_busy_from_the_emulator() {
    require("python3", &["-c", "import exchangelib"], "python3 with exchangelib is needed (scripts/test installs it)");
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), validating_options()).await.unwrap();
    let url = format!("{}/EWS/Exchange.asmx", emulator.base_url);
    let script = repo_root().join("tests/fidelity/exchangelib_freebusy.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .args([url.as_str(), demo::EWS_USER, demo::EWS_PASSWORD])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "exchangelib failed: {}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let views = answer["views"].as_array().unwrap();
    let events = |i: usize| -> Vec<(String, String, String)> {
        views[i]["events"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", views[i]))
            .iter()
            .map(|e| (e[0].as_str().unwrap().into(), e[1].as_str().unwrap().into(), e[2].as_str().unwrap().into()))
            .collect()
    };
    let e = |s: &str, t: &str, b: &str| (s.to_string(), t.to_string(), b.to_string());
    // Adele (Europe/Berlin): every item as stored, not merged: the Wednesday stand-up is there
    // under the all-day offsite, the cancelled Thursday is not, the stand-up moves to 07:00Z after
    // the DST change.
    assert_eq!(
        events(0),
        vec![
            e("2026-03-23T08:00:00Z", "2026-03-23T08:15:00Z", "Busy"),
            e("2026-03-24T08:00:00Z", "2026-03-24T08:15:00Z", "Busy"),
            e("2026-03-24T23:00:00Z", "2026-03-25T23:00:00Z", "Busy"),
            e("2026-03-25T08:00:00Z", "2026-03-25T08:15:00Z", "Busy"),
            e("2026-03-27T08:00:00Z", "2026-03-27T08:15:00Z", "Busy"),
            e("2026-03-27T12:00:00Z", "2026-03-27T13:00:00Z", "Tentative"),
            e("2026-03-30T07:00:00Z", "2026-03-30T07:15:00Z", "Busy"),
            e("2026-03-30T13:00:00Z", "2026-03-30T14:00:00Z", "Busy"),
        ]
    );
    assert_eq!(views[0]["view_type"], "DetailedMerged");
    // One digit per hour of the 8-day window (in Berlin time: 191 hours across the change).
    assert_eq!(views[0]["merged"].as_str().unwrap().len(), 191);
    let megan = events(1);
    assert!(megan.contains(&e("2026-03-24T04:00:00Z", "2026-03-26T04:00:00Z", "OOF")), "{megan:?}");
    assert!(megan.contains(&e("2026-03-27T04:00:00Z", "2026-03-28T04:00:00Z", "WorkingElsewhere")), "{megan:?}");
    assert_eq!(events(2).len(), 3);
    assert!(views[3]["error"].as_str().unwrap().contains("ErrorMailRecipientNotFound"));

    // What exchangelib sent was accepted by the schema check; it is checked here once more.
    let requests = emulator.ews_requests();
    assert!(requests[0].contains("GetServerTimeZones"), "exchangelib starts with GetServerTimeZones");
    assert!(requests.iter().any(|r| r.contains("GetUserAvailabilityRequest")));
    {
        for r in &requests {
            xmllint(&soap_body_element(r)).await.unwrap_or_else(|err| panic!("{err}\n{r}"));
        }
    }
}

#[tokio::test]
async fn msal_gets_tokens_and_documented_errors_from_the_emulator_over_https() {
    require("python3", &["-c", "import msal"], "python3 with msal is needed (scripts/test installs it)");
    let (emulator, ca) =
        Emulator::start_tls(([127, 0, 0, 1], 0).into(), freebusy_emulator::Options::default()).await.unwrap();
    let ca_file = std::env::temp_dir().join(format!("freebusy-msal-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca).unwrap();
    let script = repo_root().join("tests/fidelity/msal_graph.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .args([emulator.base_url.as_str(), demo::TENANT_ID, demo::CLIENT_ID, demo::CLIENT_SECRET])
        .arg(&ca_file)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "msal failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["token_type"], "Bearer");
    assert_eq!(seen["has_access_token"], true);
    assert_eq!(seen["wrong_secret"]["error"], "invalid_client");
    assert_eq!(seen["wrong_secret"]["error_codes"][0], 7000215);
    assert_eq!(seen["unknown_app"]["error"], "unauthorized_client");
    assert_eq!(seen["unknown_app"]["error_codes"][0], 700016);
    // The Graph docs' request shape: PascalCase names, interval as a string, Prefer zone.
    assert_eq!(seen["get_schedule_status"], 200);
    let adele = &seen["schedules"][0];
    assert_eq!(adele["availabilityView"].as_str().unwrap().len(), 24);
    let item = &adele["scheduleItems"][0];
    // 08:00Z stand-up on 23 March is 01:00 Pacific daylight time.
    assert_eq!(item["start"]["dateTime"], "2026-03-23T01:00:00.0000000");
    assert_eq!(item["start"]["timeZone"], "Pacific Standard Time");
    assert_eq!(seen["schedules"][1]["error"]["responseCode"], "5009");
}
