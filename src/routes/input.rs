//! Request bodies as Django REST framework reads them: JSON, form-encoded or
//! multipart (fields only; files are ignored), then string fields with DRF `CharField` rules (required, not null, not
//! blank, surrounding whitespace stripped, numbers taken as their text).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldErrors};

const REQUIRED: &str = "This field is required.";
const NULL: &str = "This field may not be null.";
const BLANK: &str = "This field may not be blank.";
const NOT_A_STRING: &str = "Not a valid string.";
const NUL_CHARACTER: &str = "Null characters are not allowed.";

/// The parsed body of a POST: a JSON object or the form's fields.
#[derive(Debug, Default)]
pub struct RequestFields(Map<String, Value>);

/// How much body a request may send, and how long it may take to send it;
/// set by the application from its settings.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub read_timeout: std::time::Duration,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024,
            read_timeout: std::time::Duration::from_secs(5),
        }
    }
}

impl RequestFields {
    /// Whether the body has a field of that name (whatever its value).
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Reads the named string fields in order; all errors are reported
    /// together, keyed by field, as DRF does.
    pub fn strings<const N: usize>(
        mut self,
        names: [&'static str; N],
    ) -> Result<[String; N], ApiError> {
        let mut errors: FieldErrors = Vec::new();
        let mut values: [String; N] = std::array::from_fn(|_| String::new());
        for (slot, name) in values.iter_mut().zip(names) {
            match char_field(self.0.remove(name)) {
                Ok(value) => *slot = value,
                Err(message) => errors.push((name, vec![message.to_owned()])),
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(ApiError::Fields(errors))
        }
    }

    /// [`Self::strings`] without DRF's number-to-string coercion, for fields
    /// that are never numbers (RFC 7662's `token`). Form values are strings
    /// anyway; this only matters for JSON bodies.
    pub fn exact_strings<const N: usize>(
        self,
        names: [&'static str; N],
    ) -> Result<[String; N], ApiError> {
        let numbers: FieldErrors = names
            .iter()
            .filter(|name| matches!(self.0.get(**name), Some(Value::Number(_))))
            .map(|name| (*name, vec![NOT_A_STRING.to_owned()]))
            .collect();
        if !numbers.is_empty() {
            return Err(ApiError::Fields(numbers));
        }
        self.strings(names)
    }
}

/// A body read field by field as a Django REST framework serializer reads
/// it: each accessor takes one field by its type's rules, every error is
/// kept, and [`FieldReader::finish`] reports them together, keyed by field.
/// Fields nobody asks for are ignored, as DRF ignores unknown fields.
pub struct FieldReader {
    fields: Map<String, Value>,
    errors: FieldErrors,
}

impl RequestFields {
    pub fn reader(self) -> FieldReader {
        FieldReader {
            fields: self.0,
            errors: Vec::new(),
        }
    }
}

impl FieldReader {
    /// Records a problem the reader's own rules do not see (two fields
    /// that exclude each other, a query parameter).
    pub fn fail(&mut self, name: &'static str, message: impl Into<String>) {
        self.errors.push((name, vec![message.into()]));
    }

    /// A required string (`CharField`): not null, not blank, trimmed.
    pub fn string(&mut self, name: &'static str) -> String {
        match char_field(self.fields.remove(name)) {
            Ok(value) => value,
            Err(message) => {
                self.fail(name, message);
                String::new()
            }
        }
    }

    /// A required string kept as sent (`CharField(trim_whitespace=False)`):
    /// only the empty string is blank. DRF's `obtain_auth_token` reads its
    /// password so.
    pub fn untrimmed_string(&mut self, name: &'static str) -> String {
        match untrimmed_char_field(self.fields.remove(name)) {
            Ok(value) => value,
            Err(message) => {
                self.fail(name, message);
                String::new()
            }
        }
    }

    /// A string that may be left out (`None`), but not blank when given.
    pub fn optional_string(&mut self, name: &'static str) -> Option<String> {
        self.fields.contains_key(name).then(|| self.string(name))
    }

    /// A string that may be left out or blank (`CharField(allow_blank=True)`):
    /// a profile field.
    pub fn optional_text(&mut self, name: &'static str) -> Option<String> {
        match self.fields.remove(name)? {
            Value::String(text) if text.trim().is_empty() => Some(String::new()),
            value => match char_field(Some(value)) {
                Ok(text) => Some(text),
                Err(message) => {
                    self.fail(name, message);
                    None
                }
            },
        }
    }

    /// A boolean that may be left out (`BooleanField`), from JSON or from
    /// the words a form sends.
    pub fn optional_bool(&mut self, name: &'static str) -> Option<bool> {
        let value = self.fields.remove(name)?;
        let read = match &value {
            Value::Bool(flag) => Some(*flag),
            Value::Null => {
                self.fail(name, NULL);
                return None;
            }
            Value::Number(number) => match number.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(text) => parse_bool(text),
            Value::Array(_) | Value::Object(_) => None,
        };
        if read.is_none() {
            self.fail(name, "Must be a valid boolean.");
        }
        read
    }

    /// A list of names that may be left out (`SlugRelatedField(many=True)`).
    pub fn optional_names(&mut self, name: &'static str) -> Option<Vec<String>> {
        match self.fields.remove(name)? {
            Value::Array(items) => {
                let names: Option<Vec<String>> = items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(text) if !text.trim().is_empty() && !text.contains('\0') => {
                            Some(text)
                        }
                        _ => None,
                    })
                    .collect();
                if names.is_none() {
                    self.fail(name, "Invalid value.");
                }
                names
            }
            other => {
                self.fail(
                    name,
                    format!(
                        "Expected a list of items but got type \"{}\".",
                        python_type_name(&other)
                    ),
                );
                None
            }
        }
    }

    /// A JSON object that may be left out (`DictField`).
    pub fn optional_object(&mut self, name: &'static str) -> Option<Map<String, Value>> {
        match self.fields.remove(name)? {
            Value::Object(members) => Some(members),
            other => {
                self.fail(
                    name,
                    format!(
                        "Expected a dictionary of items but got type \"{}\".",
                        python_type_name(&other)
                    ),
                );
                None
            }
        }
    }

    /// The errors found, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}

/// A boolean as DRF's `BooleanField` reads text (a form field, a query
/// parameter).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "True" | "TRUE" | "on" | "On" | "ON" | "yes" | "Yes" | "YES" | "1" | "y" | "Y" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "off" | "Off" | "OFF" | "no" | "No" | "NO" | "0" | "n"
        | "N" => Some(false),
        _ => None,
    }
}

fn char_field(value: Option<Value>) -> Result<String, &'static str> {
    let text = match value {
        None => return Err(REQUIRED),
        Some(Value::Null) => return Err(NULL),
        Some(Value::String(text)) => text,
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(_) | Value::Array(_) | Value::Object(_)) => return Err(NOT_A_STRING),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(BLANK);
    }
    if trimmed.contains('\0') {
        return Err(NUL_CHARACTER);
    }
    // Most values need no trimming: keep their allocation.
    Ok(if trimmed.len() == text.len() {
        text
    } else {
        trimmed.to_owned()
    })
}

/// [`char_field`] without the trimming.
fn untrimmed_char_field(value: Option<Value>) -> Result<String, &'static str> {
    match value {
        Some(Value::String(text)) if text.is_empty() => Err(BLANK),
        Some(Value::String(text)) if text.contains('\0') => Err(NUL_CHARACTER),
        Some(Value::String(text)) => Ok(text),
        other => char_field(other),
    }
}

/// Python's name for a JSON value's type, as DRF's message uses it.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

async fn parse(content_type: &str, body: web::Bytes) -> Result<Map<String, Value>, ApiError> {
    // DRF treats an empty body as no data, whatever its content type.
    if body.is_empty() {
        return Ok(Map::new());
    }
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Err(ApiError::NonField(vec![NULL.to_owned()])),
            Ok(other) => Err(ApiError::NonField(vec![format!(
                "Invalid data. Expected a dictionary, but got {}.",
                python_type_name(&other)
            )])),
            Err(error) => Err(ApiError::JsonParse(error.to_string())),
        },
        "application/x-www-form-urlencoded" => {
            // A repeated key keeps its last value, as Django's QueryDict does.
            Ok(form_urlencoded::parse(&body)
                .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
                .collect())
        }
        "multipart/form-data" => parse_multipart(content_type, body)
            .await
            .map_err(|error| ApiError::MultipartParse(error.to_string())),
        _ => Err(ApiError::UnsupportedMediaType(content_type.to_owned())),
    }
}

/// The text fields of a multipart body; file parts are skipped, as a token
/// endpoint has no use for them.
async fn parse_multipart(
    content_type: &str,
    body: web::Bytes,
) -> Result<Map<String, Value>, multer::Error> {
    let boundary = multer::parse_boundary(content_type)?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Map::new();
    while let Some(field) = multipart.next_field().await? {
        if field.file_name().is_some() {
            continue;
        }
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        fields.insert(name, Value::String(field.text().await?));
    }
    Ok(fields)
}

impl FromRequest for RequestFields {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = req.app_data::<BodyLimits>().copied().unwrap_or_default();
        let limit = limits.max_bytes;
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let declared_length = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared_length.is_some_and(|length| length > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let read = async {
                let mut body = web::BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|_| {
                        ApiError::JsonParse("could not read the request body".to_owned())
                    })?;
                    if body.len() + chunk.len() > limit {
                        return Err(ApiError::PayloadTooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body.freeze())
            };
            // The whole body within the deadline, however it is sliced: a
            // client trickling bytes would otherwise hold the connection. A
            // small body has usually arrived with its headers: then no timer
            // is armed (it was 1% of verify's profile).
            let mut read = std::pin::pin!(read);
            let body = match futures_util::FutureExt::now_or_never(&mut read) {
                Some(body) => body?,
                None => tokio::time::timeout(limits.read_timeout, read)
                    .await
                    .map_err(|_| ApiError::BodyTimeout)??,
            };
            parse(&content_type, body).await.map(RequestFields)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_now(content_type: &str, body: &'static [u8]) -> Result<Map<String, Value>, ApiError> {
        futures_util::FutureExt::now_or_never(parse(content_type, web::Bytes::from_static(body)))
            .expect("parsing a buffered body does not wait")
    }

    fn fields(json: &'static str) -> RequestFields {
        RequestFields(parse_now("application/json", json.as_bytes()).expect("parses"))
    }

    #[test]
    fn char_field_rules() {
        assert_eq!(char_field(None), Err(REQUIRED));
        assert_eq!(char_field(Some(Value::Null)), Err(NULL));
        assert_eq!(char_field(Some(Value::from("  \t"))), Err(BLANK));
        assert_eq!(char_field(Some(Value::from(true))), Err(NOT_A_STRING));
        assert_eq!(char_field(Some(serde_json::json!([1]))), Err(NOT_A_STRING));
        assert_eq!(
            char_field(Some(serde_json::json!({"a": 1}))),
            Err(NOT_A_STRING)
        );
        assert_eq!(char_field(Some(Value::from(12))), Ok("12".to_owned()));
        assert_eq!(char_field(Some(Value::from("  pw  "))), Ok("pw".to_owned()));
        assert_eq!(char_field(Some(Value::from("a\0b"))), Err(NUL_CHARACTER));
        assert_eq!(
            untrimmed_char_field(Some(Value::from(" pw "))),
            Ok(" pw ".to_owned())
        );
        assert_eq!(
            untrimmed_char_field(Some(Value::from("   "))),
            Ok("   ".to_owned())
        );
        assert_eq!(untrimmed_char_field(Some(Value::from(""))), Err(BLANK));
        assert_eq!(untrimmed_char_field(None), Err(REQUIRED));
        assert_eq!(
            untrimmed_char_field(Some(Value::from(7))),
            Ok("7".to_owned())
        );
    }

    #[test]
    fn errors_are_reported_per_field_in_order() {
        match fields("{}").strings(["username", "password"]) {
            Err(ApiError::Fields(errors)) => assert_eq!(
                errors,
                vec![
                    ("username", vec![REQUIRED.to_owned()]),
                    ("password", vec![REQUIRED.to_owned()])
                ]
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_reader_takes_each_type_by_drf_rules_and_reports_every_error() {
        let mut reader = fields(
            r#"{"name": " x ", "blank": " ", "flag": "false", "one": 1, "bad": "maybe",
                "groups": ["a", "b"], "not_list": "a", "bad_item": [""], "claims": {"k": 1},
                "not_object": [1], "null_text": null}"#,
        )
        .reader();
        assert_eq!(reader.string("name"), "x");
        assert_eq!(reader.optional_text("blank"), Some(String::new()));
        assert_eq!(reader.optional_string("absent"), None);
        assert_eq!(reader.optional_bool("flag"), Some(false));
        assert_eq!(reader.optional_bool("one"), Some(true));
        assert_eq!(reader.optional_bool("bad"), None);
        assert_eq!(
            reader.optional_names("groups"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(reader.optional_names("not_list"), None);
        assert_eq!(reader.optional_names("bad_item"), None);
        assert_eq!(reader.optional_object("claims").map(|c| c.len()), Some(1));
        assert_eq!(reader.optional_object("not_object"), None);
        assert_eq!(reader.optional_text("null_text"), None);
        match reader.finish() {
            Err(ApiError::Fields(errors)) => assert_eq!(
                errors,
                vec![
                    ("bad", vec!["Must be a valid boolean.".to_owned()]),
                    (
                        "not_list",
                        vec!["Expected a list of items but got type \"str\".".to_owned()]
                    ),
                    ("bad_item", vec!["Invalid value.".to_owned()]),
                    (
                        "not_object",
                        vec!["Expected a dictionary of items but got type \"list\".".to_owned()]
                    ),
                    ("null_text", vec![NULL.to_owned()]),
                ]
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_objects_name_their_python_type() {
        for (body, name) in [
            ("[]", "list"),
            ("\"x\"", "str"),
            ("1", "int"),
            ("true", "bool"),
            ("1.5", "float"),
        ] {
            match parse_now("application/json", body.as_bytes()) {
                Err(ApiError::NonField(messages)) => assert_eq!(
                    messages,
                    vec![format!(
                        "Invalid data. Expected a dictionary, but got {name}."
                    )]
                ),
                other => panic!("unexpected {other:?} for {body}"),
            }
        }
    }

    #[test]
    fn forms_keep_the_last_value_and_other_types_are_refused() {
        let map = parse_now(
            "application/x-www-form-urlencoded; charset=utf-8",
            b"a=1&a=2&b=%20x",
        )
        .expect("form");
        assert_eq!(map["a"], "2");
        assert_eq!(map["b"], " x");
        assert!(matches!(
            parse_now("text/plain", b"x"),
            Err(ApiError::UnsupportedMediaType(t)) if t == "text/plain"
        ));
        assert!(parse_now("text/plain", b"").expect("empty body").is_empty());
    }

    #[test]
    fn multipart_text_fields_are_read_and_files_skipped() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\r\nPNG\r\n\
--XyZ--\r\n";
        let map = parse_now("multipart/form-data; boundary=XyZ", body).expect("multipart");
        assert_eq!(map.get("username"), Some(&Value::from("alice")));
        assert!(!map.contains_key("avatar"));
        assert!(matches!(
            parse_now("multipart/form-data", b"--x\r\n"),
            Err(ApiError::MultipartParse(_))
        ));
    }
}
