//! Unit tests of the parent module.

use super::*;

#[test]
fn api_key_round_trips_and_only_its_secret_is_accepted() {
    let tenant = TenantId::parse("tn_a").expect("valid");
    let key = ApiKey::generate(tenant.clone(), Timestamp::from_secs(1)).expect("random");
    let record = key.record("admin", Role::Admin, Timestamp::from_secs(1));

    let presented = ApiKey::parse(key.reveal().expose()).expect("parses");
    assert_eq!(presented.tenant_id, tenant);
    assert!(record.accepts(&presented.secret));

    let other = ApiKey::generate(tenant, Timestamp::from_secs(1)).expect("random");
    assert!(!record.accepts(&other.secret));
    assert!(!format!("{key:?}").contains(key.secret.0.expose()));
}

#[test]
fn revoked_key_is_refused() {
    let key =
        ApiKey::generate(TenantId::parse("tn_a").expect("valid"), Timestamp::from_secs(1)).expect("random");
    let mut record = key.record("ci", Role::Agent, Timestamp::from_secs(1));
    record.revoked_at = Some(Timestamp::from_secs(2));
    assert!(!record.accepts(&key.secret));
}

#[test]
fn retention_settings_keep_their_bounds() {
    assert_eq!(RetentionSettings::default(), RetentionSettings::new(90, 30).expect("defaults are valid"));
    assert_eq!(RetentionSettings::new(366, 30), Err(InvalidRetention::ConversationDays));
    assert_eq!(RetentionSettings::new(0, 0), Err(InvalidRetention::ConversationDays));
    assert_eq!(RetentionSettings::new(20, 30), Err(InvalidRetention::ContentDays));
    assert_eq!(RetentionSettings::new(20, 0), Err(InvalidRetention::ContentDays));
    assert!(RetentionSettings::new(365, 365).is_ok());
}

#[test]
fn settings_are_validated_and_keywords_normalised() {
    let settings = TenantSettings {
        opt_out_keywords: vec![" sair ".into(), "STOP".into(), "stop".into()],
        ..TenantSettings::default()
    };
    assert_eq!(
        settings.validated().map(|s| s.opt_out_keywords),
        Ok(vec!["SAIR".to_owned(), "STOP".to_owned()])
    );
    let zone = TenantSettings { time_zone: "Mars/Olympus Mons".into(), ..TenantSettings::default() };
    assert_eq!(zone.validated(), Err(InvalidSettings::TimeZone));
    let hours = TenantSettings {
        business_hours: vec![BusinessHours { day: Weekday::Sat, open: "9:00".into(), close: "17:00".into() }],
        ..TenantSettings::default()
    };
    assert_eq!(hours.validated(), Err(InvalidSettings::Hours));
    let both = TenantSettings { opt_in_keywords: vec!["stop".into()], ..TenantSettings::default() };
    assert_eq!(both.validated(), Err(InvalidSettings::Keywords));
    assert!(TenantSettings {
        time_zone: "America/Argentina/Buenos_Aires".into(),
        ..TenantSettings::default()
    }
    .validated()
    .is_ok());
}

fn hours(day: Weekday, open: &str, close: &str) -> BusinessHours {
    BusinessHours { day, open: open.into(), close: close.into() }
}

/// 2026-12-07 00:00 UTC, a Monday, plus `minutes`.
fn monday_plus(minutes: i64) -> Timestamp {
    Timestamp::from_millis((1_796_601_600 + minutes * 60) * 1000)
}

#[test]
fn weekdays_count_from_a_thursday() {
    assert_eq!(Weekday::of_epoch_day(0), Weekday::Thu);
    assert_eq!(Weekday::of_epoch_day(-1), Weekday::Wed);
    assert_eq!(Weekday::of_epoch_day(1_796_601_600 / 86_400), Weekday::Mon);
}

#[test]
fn open_within_an_interval_of_the_day_only() {
    let settings = TenantSettings {
        business_hours: vec![hours(Weekday::Mon, "09:00", "12:00"), hours(Weekday::Mon, "13:00", "17:30")],
        ..TenantSettings::default()
    };
    let open_at = |minutes| settings.is_open(monday_plus(minutes));
    assert!(!open_at(9 * 60 - 1), "before opening");
    assert!(open_at(9 * 60), "opening minute included");
    assert!(!open_at(12 * 60), "closing minute excluded");
    assert!(open_at(17 * 60 + 29));
    assert!(!open_at(17 * 60 + 30));
    assert!(!open_at(24 * 60 + 10 * 60), "Tuesday has no hours");
}

#[test]
fn the_whole_week_is_open_with_24_00_closing() {
    let settings =
        TenantSettings { business_hours: TenantSettings::always_open(), ..TenantSettings::default() };
    assert_eq!(settings.clone().validated().map(|s| s.business_hours.len()), Ok(7));
    for minutes in (0..7 * 24 * 60).step_by(7) {
        assert!(settings.is_open(monday_plus(minutes)), "{minutes}");
    }
    let closed_sunday = TenantSettings {
        business_hours: TenantSettings::always_open().into_iter().filter(|h| h.day != Weekday::Sun).collect(),
        ..TenantSettings::default()
    };
    assert!(closed_sunday.is_open(monday_plus(6 * 24 * 60 - 1)), "Saturday 23:59");
    assert!(!closed_sunday.is_open(monday_plus(6 * 24 * 60)), "Sunday 00:00");
}

#[test]
fn a_fixed_offset_moves_the_local_clock() {
    let monday_nine_to_five = vec![hours(Weekday::Mon, "09:00", "17:00")];
    let sao_paulo = TenantSettings {
        time_zone: "UTC-03:00".into(),
        business_hours: monday_nine_to_five.clone(),
        ..TenantSettings::default()
    };
    assert!(sao_paulo.clone().validated().is_ok());
    assert!(!sao_paulo.is_open(monday_plus(9 * 60)), "06:00 there");
    assert!(sao_paulo.is_open(monday_plus(12 * 60)), "09:00 there");
    let kolkata =
        TenantSettings { time_zone: "UTC+05:30".into(), business_hours: monday_nine_to_five, ..sao_paulo };
    assert!(kolkata.is_open(monday_plus(3 * 60 + 30)), "09:00 there");
    assert!(!kolkata.is_open(monday_plus(11 * 60 + 30)), "17:00 there");
    assert_eq!(fixed_utc_offset_minutes("Etc/GMT+3"), Some(-180), "POSIX signs");
    assert_eq!(fixed_utc_offset_minutes("Europe/Berlin"), None);
    for bad in ["UTC+15:00", "UTC+5:30", "UTC05:30", "Etc/GMT+15"] {
        assert_eq!(fixed_utc_offset_minutes(bad), None, "{bad}");
    }
}

/// `utc_day` (epoch seconds of a UTC midnight) plus `minutes`.
fn utc(utc_day: i64, minutes: i64) -> Timestamp {
    Timestamp::from_secs(utc_day + minutes * 60)
}

fn zoned(zone: &str, business_hours: Vec<BusinessHours>) -> TenantSettings {
    TenantSettings { time_zone: zone.into(), business_hours, ..TenantSettings::default() }
        .validated()
        .expect("valid settings")
}

#[test]
fn an_iana_zone_follows_daylight_saving_on_each_side_of_the_change() {
    // Arrange: Lisbon is UTC+0 in winter and UTC+1 from 2026-03-29 to 2026-10-25.
    let lisbon = zoned("Europe/Lisbon", vec![hours(Weekday::Mon, "09:00", "17:00")]);
    let (before, after) = (1_774_224_000, 1_774_828_800); // Mondays 2026-03-23 and 2026-03-30.
    let (summer, winter) = (1_792_368_000, 1_792_972_800); // Mondays 2026-10-19 and 2026-10-26.

    // Act / Assert: 08:30 UTC is 08:30 in winter (closed) and 09:30 in summer (open).
    assert!(!lisbon.is_open(utc(before, 8 * 60 + 30)));
    assert!(lisbon.is_open(utc(before, 9 * 60)));
    assert!(lisbon.is_open(utc(after, 8 * 60 + 30)));
    assert!(!lisbon.is_open(utc(after, 16 * 60)), "17:00 there");
    assert!(lisbon.is_open(utc(summer, 8 * 60)));
    assert!(!lisbon.is_open(utc(winter, 8 * 60)));
    assert_eq!(lisbon.utc_offset_minutes_at(utc(after, 0)), 60);
    assert_eq!(lisbon.utc_offset_minutes_at(utc(before, 0)), 0);
}

#[test]
fn a_zone_without_daylight_saving_keeps_its_offset_all_year() {
    // Arrange: Sao Paulo has kept UTC-3 all year since 2019.
    let sao_paulo = zoned("America/Sao_Paulo", vec![hours(Weekday::Mon, "09:00", "17:00")]);

    // Act / Assert: January (southern summer) and July alike.
    for monday in [1_768_176_000, 1_783_900_800] {
        assert!(!sao_paulo.is_open(utc(monday, 11 * 60 + 59)), "08:59 there");
        assert!(sao_paulo.is_open(utc(monday, 12 * 60)), "09:00 there");
        assert!(!sao_paulo.is_open(utc(monday, 20 * 60)), "17:00 there");
    }
}

#[test]
fn unknown_zones_are_refused_and_known_ones_spelt_as_the_database_does() {
    // Arrange / Act / Assert
    for bad in ["Europe/Atlantis", "Mars", "UTC+5:30", ""] {
        let settings = TenantSettings { time_zone: bad.into(), ..TenantSettings::default() };
        assert_eq!(settings.validated(), Err(InvalidSettings::TimeZone), "{bad}");
    }
    assert_eq!(zoned("europe/lisbon", Vec::new()).time_zone, "Europe/Lisbon");
    assert_eq!(zoned("UTC-03:00", Vec::new()).time_zone, "UTC-03:00");
}

#[test]
fn holidays_close_the_whole_local_day() {
    // Arrange: Tokyo (UTC+9), open every hour, closed on 2026-12-25.
    let tokyo = TenantSettings {
        holidays: vec!["2026-12-25".into()],
        ..zoned("Asia/Tokyo", TenantSettings::always_open())
    };
    let thursday = 1_798_070_400; // 2026-12-24 00:00 UTC.

    // Act / Assert: the 25th begins at 15:00 UTC on the 24th and lasts 24 hours.
    assert!(tokyo.is_open(utc(thursday, 14 * 60 + 59)), "24th 23:59 there");
    assert!(!tokyo.is_open(utc(thursday, 15 * 60)), "25th 00:00 there");
    assert!(!tokyo.is_open(utc(thursday, 38 * 60 + 59)), "25th 23:59 there");
    assert!(tokyo.is_open(utc(thursday, 39 * 60)), "26th 00:00 there");
}

#[test]
fn holidays_are_dates_sorted_without_repeats() {
    // Arrange
    let settings = TenantSettings {
        holidays: vec!["2026-12-25".into(), "2026-01-01".into(), "2026-12-25".into(), "2028-02-29".into()],
        ..TenantSettings::default()
    };

    // Act / Assert
    assert_eq!(
        settings.validated().map(|s| s.holidays),
        Ok(vec!["2026-01-01".to_owned(), "2026-12-25".to_owned(), "2028-02-29".to_owned()])
    );
    for bad in ["2026-02-29", "25/12/2026", "2026-13-01", "2026-1-01", ""] {
        let settings = TenantSettings { holidays: vec![bad.into()], ..TenantSettings::default() };
        assert_eq!(settings.validated(), Err(InvalidSettings::Holidays), "{bad}");
    }
    let too_many = TenantSettings {
        holidays: (0..101).map(|i| format!("{}-01-01", 2000 + i)).collect(),
        ..TenantSettings::default()
    };
    assert_eq!(too_many.validated(), Err(InvalidSettings::Holidays));
    let old_settings: TenantSettings = serde_json::from_value(serde_json::json!({
        "time_zone": "UTC", "business_hours": [], "opt_out_keywords": [], "opt_in_keywords": [], "ai_enabled": false
    }))
    .expect("settings stored before holidays still read");
    assert!(old_settings.holidays.is_empty());
}

#[test]
fn civil_days_count_from_1970() {
    assert_eq!(civil_day("1970-01-01"), Some(0));
    assert_eq!(civil_day("2026-12-24"), Some(1_798_070_400 / 86_400));
    assert_eq!(civil_day("1969-12-31"), Some(-1));
    assert_eq!(civil_day("2000-02-29"), Some(11_016));
}

#[test]
fn bad_hours_are_refused() {
    for (open, close) in [
        ("24:00", "24:00"),
        ("10:00", "09:00"),
        ("09:00", "09:00"),
        ("9:00", "17:00"),
        ("09:00", "24:01"),
        ("09:60", "10:00"),
        ("+9:00", "10:00"),
        ("09:00", "25:00"),
    ] {
        let settings = TenantSettings {
            business_hours: vec![hours(Weekday::Mon, open, close)],
            ..TenantSettings::default()
        };
        assert_eq!(settings.validated(), Err(InvalidSettings::Hours), "{open}-{close}");
    }
    let too_many = TenantSettings {
        business_hours: (0..22).map(|_| hours(Weekday::Mon, "09:00", "10:00")).collect(),
        ..TenantSettings::default()
    };
    assert_eq!(too_many.validated(), Err(InvalidSettings::Hours));
}

#[test]
fn malformed_keys_do_not_parse() {
    for bad in ["", "llk", "llk.tn_a.key_b", "xxx.tn_a.key_b.s", "llk.tn#a.key_b.s", "llk.a.b.c.d"] {
        assert!(ApiKey::parse(bad).is_none(), "{bad}");
    }
}
