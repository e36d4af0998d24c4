//! Reading and writing attribute values with clear errors when a stored item is not what the
//! adapter expects.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{Key, PK, SK};

/// A table item.
pub type Item = HashMap<String, AttributeValue>;

/// A stored item lacks an attribute or holds the wrong type. Means a bug or a foreign writer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item attribute {attribute} is missing or not a {expected}")]
pub struct MappingError {
    /// The attribute.
    pub attribute: String,
    /// The type expected.
    pub expected: &'static str,
}

fn missing(attribute: &str, expected: &'static str) -> MappingError {
    MappingError { attribute: attribute.to_owned(), expected }
}

/// String attribute value.
#[must_use]
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Number attribute value.
#[must_use]
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Binary attribute value.
#[must_use]
pub fn b(value: impl Into<Vec<u8>>) -> AttributeValue {
    AttributeValue::B(Blob::new(value))
}

/// An item holding just `key`, to add attributes to.
#[must_use]
pub fn item_with_key(key: &Key) -> Item {
    HashMap::from([(PK.to_owned(), s(&key.pk)), (SK.to_owned(), s(&key.sk))])
}

/// The key attributes of `key`, for GetItem, DeleteItem and UpdateItem.
#[must_use]
pub fn key_attributes(key: &Key) -> Item {
    item_with_key(key)
}

/// Typed reads of item attributes.
pub trait ItemExt {
    /// A string attribute.
    ///
    /// # Errors
    /// [`MappingError`] when missing or not a string.
    fn string(&self, name: &str) -> Result<&str, MappingError>;
    /// A string attribute that may be absent.
    fn opt_string(&self, name: &str) -> Option<&str>;
    /// A number attribute.
    ///
    /// # Errors
    /// [`MappingError`] when missing or not a number of type `T`.
    fn number<T: FromStr>(&self, name: &str) -> Result<T, MappingError>;
    /// A number attribute that may be absent.
    ///
    /// # Errors
    /// [`MappingError`] when present but not a number of type `T`.
    fn opt_number<T: FromStr>(&self, name: &str) -> Result<Option<T>, MappingError>;
    /// A binary attribute.
    ///
    /// # Errors
    /// [`MappingError`] when missing or not binary.
    fn bytes(&self, name: &str) -> Result<&[u8], MappingError>;
}

impl ItemExt for Item {
    fn string(&self, name: &str) -> Result<&str, MappingError> {
        self.opt_string(name).ok_or_else(|| missing(name, "string"))
    }

    fn opt_string(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(AttributeValue::S(value)) => Some(value),
            _ => None,
        }
    }

    fn number<T: FromStr>(&self, name: &str) -> Result<T, MappingError> {
        self.opt_number(name)?.ok_or_else(|| missing(name, "number"))
    }

    fn opt_number<T: FromStr>(&self, name: &str) -> Result<Option<T>, MappingError> {
        match self.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| missing(name, "number")),
            Some(_) => Err(missing(name, "number")),
        }
    }

    fn bytes(&self, name: &str) -> Result<&[u8], MappingError> {
        match self.get(name) {
            Some(AttributeValue::B(blob)) => Ok(blob.as_ref()),
            _ => Err(missing(name, "binary")),
        }
    }
}
