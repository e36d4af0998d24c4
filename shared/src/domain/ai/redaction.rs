//! Redaction (P31): what reaches an AI provider is [`RedactedText`], which only [`redact`] makes.

use super::*;

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

/// Text with identifiers replaced by placeholders; made only by [`redact`]. Its `Debug` shows
/// the length, never the text (P17).
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedText(String);

impl RedactedText {
    /// The redacted text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedactedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedText({} chars)", self.0.chars().count())
    }
}

/// Digits at which a run of digits is treated as a phone number rather than a plain number.
pub(super) const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// Runs of at least this many digits are never sent (order numbers, postcodes, document ids).
pub(super) const NUMBER_DIGITS: usize = 5;

/// Replaces identifiers in `text`: URLs, emails, @handles, mixed letter-digit ids, phone numbers,
/// runs of five or more digits, and the words of `names` — the contact's and the team's — (whole
/// words, any case, name particles such as "da" or "van" excepted).
/// Everything else — the words that carry the meaning — is left as it was.
#[must_use]
pub fn redact(text: &str, names: &[&str]) -> RedactedText {
    let text = replace_tokens(text);
    let text = replace_digit_runs(&text);
    RedactedText(replace_names(&text, names))
}

/// Splits on whitespace (kept) and replaces each token that is an identifier by its shape
/// ([`token_identifier`]), leaving the punctuation around it.
pub(super) fn replace_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for token in text.split_inclusive(char::is_whitespace) {
        let (word, space) = match token.char_indices().last() {
            Some((i, c)) if c.is_whitespace() => token.split_at(i),
            _ => (token, ""),
        };
        let start = word.find(|c: char| !"(\"'<[{".contains(c)).unwrap_or(word.len());
        let end = word
            .rfind(|c: char| !".,;:!?)\"'>]}".contains(c))
            .map_or(start, |i| i + word[i..].chars().next().map_or(0, char::len_utf8));
        let core = if start < end { &word[start..end] } else { "" };
        match token_identifier(core) {
            Some(placeholder) if !core.is_empty() => {
                out.push_str(&word[..start]);
                out.push_str(placeholder);
                out.push_str(&word[end..]);
            }
            _ => out.push_str(word),
        }
        out.push_str(space);
    }
    out
}

/// The placeholder for a whole token that is an identifier by its shape.
pub(super) fn token_identifier(token: &str) -> Option<&'static str> {
    let lower = token.to_lowercase();
    if lower.contains("://") || lower.starts_with("www.") {
        return Some("[url]");
    }
    if let Some((local, domain)) = token.split_once('@') {
        return Some(if local.is_empty() { "[handle]" } else { "[email]" }).filter(|_| !domain.is_empty());
    }
    // example.com/path, bit.ly/x: a host with a dot, then a path.
    if let Some((host, _)) = token.split_once('/') {
        if host.contains('.') && host.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-')) {
            return Some("[url]");
        }
    }
    let digits = token.chars().filter(char::is_ascii_digit).count();
    let letters = token.chars().filter(|c| c.is_alphabetic()).count();
    // AB12345, wamid.HBgM…, a token or key: letters and digits mixed.
    if letters > 0 && (digits >= 4 || (digits > 0 && token.chars().count() >= 16)) {
        return Some("[id]");
    }
    None
}

/// Replaces runs of digits joined by phone punctuation (`+55 (11) 98765-4321`, `123.456.789-09`).
pub(super) fn replace_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_run = chars[i].is_ascii_digit()
            || (matches!(chars[i], '+' | '(') && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts_run {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Extend over digits and single separators that are followed by more digits.
        let mut end = i + 1;
        let mut last_digit = if chars[i].is_ascii_digit() { i + 1 } else { i };
        while end < chars.len() {
            let c = chars[end];
            if c.is_ascii_digit() {
                end += 1;
                last_digit = end;
            } else if matches!(c, ' ' | '-' | '.' | '(' | ')' | '/') {
                let mut next = end + 1;
                while next < chars.len() && matches!(chars[next], ' ' | '(' | ')') && next - end < 2 {
                    next += 1;
                }
                if chars.get(next).is_some_and(char::is_ascii_digit) {
                    end = next;
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        let run = &chars[i..last_digit];
        let digits = run.iter().filter(|c| c.is_ascii_digit()).count();
        if PHONE_DIGITS.contains(&digits) {
            out.push_str("[phone]");
        } else if digits >= NUMBER_DIGITS {
            out.push_str("[number]");
        } else {
            out.extend(run);
        }
        i = last_digit.max(i + 1);
    }
    out
}

/// Words inside names that are everyday words too ("Ana da Silva", "Jan van Dijk"): not treated
/// as names, or every "da" of a Portuguese message would go.
pub(super) const NAME_PARTICLES: [&str; 20] = [
    "da", "de", "do", "das", "dos", "di", "du", "del", "della", "der", "den", "van", "von", "la", "le", "el",
    "al", "bin", "e", "y",
];

/// Replaces whole words equal (any case) to a word of the given names.
pub(super) fn replace_names(text: &str, names: &[&str]) -> String {
    let parts: Vec<String> = names
        .iter()
        .flat_map(|name| name.split(|c: char| !c.is_alphabetic()))
        .filter(|part| part.chars().count() >= 2)
        .map(str::to_lowercase)
        .filter(|part| !NAME_PARTICLES.contains(&part.as_str()))
        .collect();
    if parts.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let mut previous: Option<char> = None;
    let flush = |word: &mut String, out: &mut String, before: Option<char>, after: Option<char>| {
        let placeholder = before == Some('[') && after == Some(']');
        if !placeholder && parts.contains(&word.to_lowercase()) {
            out.push_str("[name]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    let mut before_word: Option<char> = None;
    for c in text.chars() {
        if c.is_alphabetic() {
            if word.is_empty() {
                before_word = previous;
            }
            word.push(c);
        } else {
            if !word.is_empty() {
                flush(&mut word, &mut out, before_word, Some(c));
            }
            out.push(c);
        }
        previous = Some(c);
    }
    if !word.is_empty() {
        flush(&mut word, &mut out, before_word, None);
    }
    out
}
