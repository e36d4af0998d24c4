//! The fast path's reader: one pass over the bytes of a webhook whose every change is a messages
//! value, each event's raw JSON and identifying fields taken in the same pass.
//!
//! It reads a strict subset of what the general path reads and gives up (`None`) on anything
//! else, so that whatever it accepts, the general path would read to the same events:
//! - the whole text is valid JSON as `serde_json` defines it (strings, escapes, numbers, literals,
//!   nesting; whitespace only around values; nothing after the body);
//! - every key that the general path's types match (the body's, an entry's, a change's, a value's,
//!   `metadata`'s and an event's identifying fields) is a string without escapes, at most once in
//!   its object, with a value of the type those types expect: a string without escapes (or
//!   `null` where it is optional), an integer where an id may be one, a list where a list is
//!   expected; any other key is skipped (checked, not read);
//! - every event is an object. Anything outside this subset (an escape in an id, a duplicate key,
//!   a number where a string is expected, `null` for a list, …) goes to the general path, which
//!   decides exactly as before.

use std::borrow::Cow;

use super::{Element, Head, Id, ValueParts};

/// Where the fast path's changes go as they are read: the entry's id, the change's field and its
/// value.
pub(super) type Sink<'s, 'a> = dyn FnMut(&str, &'a str, &ValueParts<'a>) + 's;

/// Reads `text` when it is a WhatsApp Business Account body whose every change is a messages
/// value, handing each change to `sink` as soon as it is read (no list of entries is built);
/// `None` for anything else, possibly after some changes went to `sink` (the caller drops what
/// it made of them). Meta writes `object` before `entry` and an entry's `id` before its
/// `changes`; a body that does not is left to the general path.
pub(super) fn messages_body<'a>(text: &'a str, sink: &mut Sink<'_, 'a>) -> Option<()> {
    let mut r = Reader { text, bytes: text.as_bytes(), at: 0 };
    let (mut object, mut entries) = (None, None);
    r.object(|r, key| match key {
        "object" => set(&mut object, r.plain_str()?),
        "entry" => {
            (object? == "whatsapp_business_account").then_some(())?;
            set(&mut entries, r.items(|r| r.entry(sink))?)
        }
        _ => r.skip(),
    })?;
    r.whitespace();
    (r.at == r.bytes.len() && object? == "whatsapp_business_account").then_some(())
}

/// Sets a field read once; `None` (give up) for a key seen twice.
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.is_none().then_some(())?;
    *slot = Some(value);
    Some(())
}

/// Where the first byte that ends a plain run of string bytes is: `"`, `\` or a control
/// character. Eight bytes at a time (ids, names and texts are mostly longer than eight), then one
/// at a time.
fn special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set where it is zero (quote, backslash) or below 0x20; a borrow can
        // only set bits above the first such byte, so the lowest set bit is exact.
        let found = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word))
            & HIGH;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i)
}

/// Deepest nesting skipped: far beyond any webhook; deeper goes to the general path.
const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The next non-whitespace byte is `byte`: consumed.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.whitespace();
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    /// An object, `field` called on each key with the reader at its value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.whitespace();
            let key = self.plain_str()?;
            self.eat(b':')?;
            self.whitespace();
            field(self, key)?;
            self.whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A list of events, each read into its place in the list (an [`Element`] is ~290 bytes:
    /// built where it stays rather than moved there; the moves were a tenth of the split).
    fn elements(&mut self) -> Option<Vec<Element<'a>>> {
        let mut elements: Vec<Element<'a>> = Vec::new();
        self.items(|r| {
            // Room for one first: most lists (a webhook's contacts, messages, statuses) hold one
            // event, and a `Vec`'s first growth, to four elements, is past what the allocator
            // serves from its per-thread cache (measured: a tenth of the split).
            if elements.capacity() == 0 {
                elements.reserve_exact(1);
            }
            elements.push(Element { raw: "", head: Head::default() });
            r.element(elements.last_mut()?)
        })?;
        Some(elements)
    }

    /// A list, each item read by `item` and not kept.
    fn items(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.whitespace();
        self.eat(b'[')?;
        self.whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.whitespace();
            item(self)?;
            self.whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string without escapes (what it says is what it is).
    fn plain_str(&mut self) -> Option<&'a str> {
        self.whitespace();
        (self.peek()? == b'"').then_some(())?;
        let start = self.at + 1;
        let end = start + special(&self.bytes[start..])?;
        (self.bytes[end] == b'"').then_some(())?;
        self.at = end + 1;
        // Both ends are ASCII quotes, so both are char boundaries.
        self.text.get(start..end)
    }

    /// A string without escapes, or `null`.
    fn optional_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.literal(b"null") {
            return Some(None);
        }
        self.plain_str().map(|s| Some(Cow::Borrowed(s)))
    }

    /// A string without escapes or an integer that fits a `u64`, or `null`.
    fn optional_id(&mut self) -> Option<Option<Id<'a>>> {
        if self.literal(b"null") {
            return Some(None);
        }
        if self.peek()? == b'"' {
            return self.plain_str().map(|s| Some(Id::Text(Cow::Borrowed(s))));
        }
        self.integer().map(|n| Some(Id::Number(n)))
    }

    /// A non-negative integer without fraction or exponent that fits a `u64`.
    fn integer(&mut self) -> Option<u64> {
        let start = self.at;
        let len =
            self.bytes[start..].iter().position(|b| !b.is_ascii_digit()).unwrap_or(self.bytes.len() - start);
        let digits = self.text.get(start..start + len)?;
        // JSON: one leading zero at most; what follows must not make it a float.
        (!digits.is_empty() && (digits == "0" || !digits.starts_with('0'))).then_some(())?;
        self.at = start + len;
        (!matches!(self.peek(), Some(b'.' | b'e' | b'E'))).then_some(())?;
        digits.parse().ok()
    }

    /// `word` (consumed) if it is next.
    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.bytes[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    /// Any JSON value, checked as `serde_json` checks what it skips, not read.
    fn skip(&mut self) -> Option<()> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Option<()> {
        (depth < MAX_DEPTH).then_some(())?;
        self.whitespace();
        match self.peek()? {
            b'{' => self.object(|r, _| r.skip_at(depth + 1)),
            b'[' => self.items(|r| r.skip_at(depth + 1)),
            b'"' => self.skip_str(),
            b'-' | b'0'..=b'9' => self.skip_number(),
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.literal(b"null").then_some(()),
            _ => None,
        }
    }

    /// A string, escapes checked as `serde_json` checks them when it skips one.
    fn skip_str(&mut self) -> Option<()> {
        self.at += 1;
        loop {
            self.at += special(&self.bytes[self.at..])?;
            match self.bytes[self.at] {
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                b'\\' => match *self.bytes.get(self.at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                    b'u' => {
                        let hex = self.bytes.get(self.at + 2..self.at + 6)?;
                        hex.iter().all(u8::is_ascii_hexdigit).then_some(())?;
                        self.at += 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// A JSON number: `-`, one leading zero or digits, an optional fraction and exponent.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// `entry.time`: an integer that surely fits an `i64`, or `null` (read by the general path
    /// for account updates only, so only checked here).
    fn time(&mut self) -> Option<()> {
        if self.literal(b"null") {
            return Some(());
        }
        // `-0` is a float to `serde_json`, not an integer.
        if self.peek() == Some(b'-') {
            self.at += 1;
            self.peek().filter(|b| matches!(b, b'1'..=b'9'))?;
        }
        let start = self.at;
        self.integer()?;
        (self.at - start <= 18).then_some(())
    }

    /// An entry, each change handed to `sink` with the entry's id (read before its changes).
    fn entry(&mut self, sink: &mut Sink<'_, 'a>) -> Option<()> {
        let (mut id, mut time, mut changes) = (None, None, None);
        self.object(|r, key| match key {
            "id" => set(&mut id, r.optional_id()??),
            "time" => set(&mut time, r.time()?),
            "changes" => {
                let waba_id = id.as_ref()?.text();
                set(
                    &mut changes,
                    r.items(|r| {
                        let (field, value) = r.change()?;
                        sink(&waba_id, field, &value);
                        Some(())
                    })?,
                )
            }
            _ => r.skip(),
        })?;
        id.map(drop)
    }

    fn change(&mut self) -> Option<(&'a str, ValueParts<'a>)> {
        let (mut field, mut value) = (None, None);
        self.object(|r, key| match key {
            "field" => set(&mut field, r.plain_str()?),
            "value" => set(&mut value, r.messages_value()?),
            _ => r.skip(),
        })?;
        let field = field?;
        super::is_messages_field(field).then_some(())?;
        Some((field, value?))
    }

    fn messages_value(&mut self) -> Option<ValueParts<'a>> {
        let mut metadata = None;
        let (mut contacts, mut messages, mut statuses, mut errors, mut preferences) =
            (None, None, None, None, None);
        self.object(|r, key| match key {
            "metadata" => set(&mut metadata, r.metadata()?),
            "contacts" => set(&mut contacts, r.elements()?),
            "messages" => set(&mut messages, r.elements()?),
            "statuses" => set(&mut statuses, r.elements()?),
            "errors" => set(&mut errors, r.elements()?),
            "user_preferences" => set(&mut preferences, r.elements()?),
            _ => r.skip(),
        })?;
        Some(ValueParts {
            phone_number_id: metadata.map(Cow::Borrowed),
            contacts: contacts.unwrap_or_default(),
            messages: messages.unwrap_or_default(),
            statuses: statuses.unwrap_or_default(),
            errors: errors.unwrap_or_default(),
            user_preferences: preferences.unwrap_or_default(),
        })
    }

    fn metadata(&mut self) -> Option<&'a str> {
        let mut number = None;
        self.object(|r, key| match key {
            "phone_number_id" => set(&mut number, r.plain_str()?),
            _ => r.skip(),
        })?;
        number
    }

    /// An event (message, status, contact, preference, error) into `element`: its raw JSON,
    /// exactly the bytes of the value, and its identifying fields.
    fn element(&mut self, element: &mut Element<'a>) -> Option<()> {
        self.whitespace();
        let start = self.at;
        let head = &mut element.head;
        let mut seen = [false; 11];
        self.object(|r, key| {
            let (index, slot) = match key {
                "id" => (0, &mut head.id),
                "from" => (1, &mut head.from),
                "from_user_id" => (2, &mut head.from_user_id),
                "status" => (3, &mut head.status),
                "recipient_id" => (4, &mut head.recipient_id),
                "recipient_user_id" => (5, &mut head.recipient_user_id),
                "wa_id" => (6, &mut head.wa_id),
                "user_id" => (7, &mut head.user_id),
                "value" => (8, &mut head.value),
                "leadgen_id" | "timestamp" => {
                    let (index, slot) = if key == "leadgen_id" {
                        (9, &mut head.leadgen_id)
                    } else {
                        (10, &mut head.timestamp)
                    };
                    (!std::mem::replace(&mut seen[index], true)).then_some(())?;
                    *slot = r.optional_id()?;
                    return Some(());
                }
                _ => return r.skip_at(1),
            };
            (!std::mem::replace(&mut seen[index], true)).then_some(())?;
            *slot = r.optional_str()?;
            Some(())
        })?;
        element.raw = self.text.get(start..self.at)?;
        Some(())
    }
}
