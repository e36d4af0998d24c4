//! Customers' answers: normalising typed text for matching, and checking an answer against a
//! question's [`Validation`].

use super::definition::Validation;
use crate::domain::ids::PhoneNumber;

/// The longest text answer taken (and the default `max_length`).
pub const MAX_TEXT_ANSWER: u32 = 1024;

/// `text` as typed answers are compared with titles, keywords and options: trimmed of spaces
/// and punctuation at either end (`1.`, `Sales!`), lowercased, Latin accents removed
/// (`Sí` = `si`), inner whitespace collapsed to one space.
#[must_use]
pub fn normalize(text: &str) -> String {
    let trimmed = text.trim_matches(|c: char| !c.is_alphanumeric());
    let mut out = String::with_capacity(trimmed.len());
    let mut space = false;
    for c in trimmed.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        for lower in c.to_lowercase() {
            out.push(unaccent(lower));
        }
    }
    out
}

/// The base letter of a lowercase Latin letter with a diacritic (the letters of the languages
/// Leadline's tenants write in); any other character as it is.
fn unaccent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ł' | 'ľ' | 'ĺ' | 'ļ' => 'l',
        'ñ' | 'ń' | 'ň' | 'ņ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ř' | 'ŗ' => 'r',
        'ś' | 'š' | 'ş' | 'ŝ' | 'ș' => 's',
        'ť' | 'ţ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ž' | 'ż' => 'z',
        other => other,
    }
}

/// The value to store for `answer`, or `None` when it is not valid: an email lowercased, a phone
/// as `+` and E.164 digits, a number with `.` as the decimal mark, a date as `YYYY-MM-DD`, an
/// option as written in the definition, a text trimmed.
#[must_use]
pub fn check_answer(validation: &Validation, answer: &str) -> Option<String> {
    let answer = answer.trim();
    if answer.is_empty() {
        return None;
    }
    match validation {
        Validation::Text { max_length } => {
            let limit = max_length.unwrap_or(MAX_TEXT_ANSWER).min(MAX_TEXT_ANSWER);
            (answer.chars().count() <= limit as usize).then(|| answer.to_owned())
        }
        Validation::Email => email(answer),
        Validation::Phone => {
            // Only international numbers: without a country code the digits are ambiguous.
            let international = answer.starts_with('+') || answer.starts_with("00");
            let answer = answer.strip_prefix("00").unwrap_or(answer);
            let phone = PhoneNumber::parse(answer).ok().filter(|_| international)?;
            Some(format!("+{}", phone.as_digits()))
        }
        Validation::Number { min, max } => {
            let value = number(answer)?;
            let in_range = min.is_none_or(|min| value >= min) && max.is_none_or(|max| value <= max);
            in_range.then(|| answer.replace(',', "."))
        }
        Validation::Date => date(answer),
        Validation::Options { options } => option_index(options, answer).map(|i| options[i].clone()),
    }
}

/// The index of the option `answer` names: its number from 1, or its text (normalised).
#[must_use]
pub(crate) fn option_index(options: &[String], answer: &str) -> Option<usize> {
    let typed = normalize(answer);
    if let Ok(number) = typed.parse::<usize>() {
        return (1..=options.len()).contains(&number).then(|| number - 1);
    }
    options.iter().position(|option| normalize(option) == typed)
}

/// A plausible email address, lowercased: one `@`, a local part of 1 to 64 characters, a domain
/// of dot-separated labels (letters, digits, `-`) ending in a label of 2 or more letters.
fn email(answer: &str) -> Option<String> {
    let email = answer.to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "._%+-'!#$&*/=?^`{|}~".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    (local_ok && domain_ok && email.len() <= 254).then_some(email)
}

/// A decimal number with `.` or `,` as the decimal mark (no thousands separators).
fn number(answer: &str) -> Option<f64> {
    let digits = answer.strip_prefix('-').unwrap_or(answer);
    let marks = digits.chars().filter(|c| matches!(c, '.' | ',')).count();
    let shaped = marks <= 1
        && digits.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | ','))
        && digits.chars().next().is_some_and(|c| c.is_ascii_digit())
        && digits.chars().last().is_some_and(|c| c.is_ascii_digit());
    if !shaped {
        return None;
    }
    answer.replace(',', ".").parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A calendar date as `YYYY-MM-DD`, from `YYYY-MM-DD` or `DD/MM/YYYY` (day first, as written
/// where most of Leadline's customers are).
fn date(answer: &str) -> Option<String> {
    let (year, month, day) = if let Some((y, rest)) = answer.split_once('-') {
        let (m, d) = rest.split_once('-')?;
        (digits(y, 4, 4)?, digits(m, 2, 2)?, digits(d, 2, 2)?)
    } else {
        let (d, rest) = answer.split_once('/')?;
        let (m, y) = rest.split_once('/')?;
        (digits(y, 4, 4)?, digits(m, 1, 2)?, digits(d, 1, 2)?)
    };
    let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
    valid.then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// `text` as a number when it is `min` to `max` ASCII digits.
fn digits(text: &str, min: usize, max: usize) -> Option<u32> {
    if !(min..=max).contains(&text.len()) || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Days in `month` of `year` (Gregorian).
pub(crate) const fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}
