//! Typed answers: normalising and validation kinds.

use super::super::answer::option_index;
use super::*;

#[test]
fn normalising_ignores_case_accents_spaces_and_end_punctuation() {
    // Arrange / Act / Assert
    assert_eq!(normalize("  Atención   al Cliente!! "), "atencion al cliente");
    assert_eq!(normalize("1."), "1");
    assert_eq!(normalize("SÃO PAULO"), "sao paulo");
    assert_eq!(normalize("..."), "");
}

#[test]
fn emails_are_checked_and_lowercased() {
    let email = Validation::Email;
    assert_eq!(
        check_answer(&email, " Ana.Silva+x@Example.COM.br "),
        Some("ana.silva+x@example.com.br".into())
    );
    for bad in
        ["ana", "ana@", "@x.com", "ana@x", "ana@x.c", "a b@x.com", "ana@@x.com", "ana@-x.com", ".a@x.com"]
    {
        assert_eq!(check_answer(&email, bad), None, "{bad}");
    }
}

#[test]
fn phones_must_be_international_and_are_stored_as_e164() {
    let phone = Validation::Phone;
    assert_eq!(check_answer(&phone, "+55 (11) 98765-4321"), Some("+5511987654321".into()));
    assert_eq!(check_answer(&phone, "0044 20 7946 0958"), Some("+442079460958".into()));
    for bad in ["11 98765-4321", "+12", "+55 11 abc", "hello"] {
        assert_eq!(check_answer(&phone, bad), None, "{bad}");
    }
}

#[test]
fn numbers_take_either_decimal_mark_and_their_range() {
    let any = Validation::Number { min: None, max: None };
    assert_eq!(check_answer(&any, "12,5"), Some("12.5".into()));
    assert_eq!(check_answer(&any, "-3"), Some("-3".into()));
    for bad in ["1.234,5", "12.", "abc", "1e9", "--1", "NaN"] {
        assert_eq!(check_answer(&any, bad), None, "{bad}");
    }
    let ranged = Validation::Number { min: Some(1.0), max: Some(10.0) };
    assert_eq!(check_answer(&ranged, "10"), Some("10".into()));
    assert_eq!(check_answer(&ranged, "0.5"), None);
    assert_eq!(check_answer(&ranged, "10.01"), None);
}

#[test]
fn dates_are_iso_or_day_first_and_real() {
    let date = Validation::Date;
    assert_eq!(check_answer(&date, "2026-12-25"), Some("2026-12-25".into()));
    assert_eq!(check_answer(&date, "25/12/2026"), Some("2026-12-25".into()));
    assert_eq!(check_answer(&date, "5/1/2026"), Some("2026-01-05".into()));
    assert_eq!(check_answer(&date, "29/02/2028"), Some("2028-02-29".into()));
    for bad in ["2026-02-29", "31/04/2026", "2026-13-01", "12/25/2026", "2026/12/25", "tomorrow", "26-12-25"]
    {
        assert_eq!(check_answer(&date, bad), None, "{bad}");
    }
}

#[test]
fn options_match_by_number_or_text_and_store_the_defined_spelling() {
    let options = Validation::Options { options: vec!["Manhã".into(), "Tarde".into()] };
    assert_eq!(check_answer(&options, "manha"), Some("Manhã".into()));
    assert_eq!(check_answer(&options, "2"), Some("Tarde".into()));
    assert_eq!(check_answer(&options, "3"), None);
    assert_eq!(check_answer(&options, "noite"), None);
    assert_eq!(option_index(&["a".into()], "0"), None);
}

#[test]
fn texts_are_non_empty_within_their_length() {
    let short = Validation::Text { max_length: Some(5) };
    assert_eq!(check_answer(&short, "  Ana  "), Some("Ana".into()));
    assert_eq!(check_answer(&short, "Ana Maria"), None);
    assert_eq!(check_answer(&short, "   "), None);
    let default = Validation::Text { max_length: None };
    assert!(check_answer(&default, &"x".repeat(1024)).is_some());
    assert!(check_answer(&default, &"x".repeat(1025)).is_none());
}
