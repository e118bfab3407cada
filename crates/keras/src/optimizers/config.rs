//! Reading Keras `get_config()` dicts: typed look-ups with defaults and an error for any key
//! left over (Keras raises "Argument(s) not recognized").

use keras_tensor::{Error, Result};
use serde_json::{Map, Value};

/// A JSON number for a step-like value: an integer when it is integral (as Keras writes
/// `decay_steps=10`), a float otherwise.
pub(crate) fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

pub(crate) struct ConfigReader {
    what: String,
    map: Map<String, Value>,
}

impl ConfigReader {
    pub(crate) fn new(what: &str, config: &Value) -> Result<ConfigReader> {
        match config {
            Value::Object(m) => Ok(ConfigReader {
                what: what.to_string(),
                map: m.clone(),
            }),
            other => Err(Error::InvalidArgument {
                op: "from_config",
                msg: format!("{what}: the config must be a JSON object, got {other}"),
            }),
        }
    }

    fn err(&self, key: &str, want: &str, got: &Value) -> Error {
        Error::InvalidArgument {
            op: "from_config",
            msg: format!("{}: `{key}` must be {want}, got {got}", self.what),
        }
    }

    /// Removes `key`; `None` when absent.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    pub(crate) fn f64(&mut self, key: &str) -> Result<f64> {
        match self.take(key) {
            Some(v) => v.as_f64().ok_or_else(|| self.err(key, "a number", &v)),
            None => Err(Error::InvalidArgument {
                op: "from_config",
                msg: format!("{}: missing required argument `{key}`", self.what),
            }),
        }
    }

    pub(crate) fn f64_or(&mut self, key: &str, default: f64) -> Result<f64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.err(key, "a number", &v)),
        }
    }

    /// A number or `null` (absent → `None`).
    pub(crate) fn opt_f64(&mut self, key: &str) -> Result<Option<f64>> {
        self.opt_f64_or(key, None)
    }

    pub(crate) fn opt_f64_or(&mut self, key: &str, default: Option<f64>) -> Result<Option<f64>> {
        match self.take(key) {
            None => Ok(default),
            Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.err(key, "a number or null", &v)),
        }
    }

    pub(crate) fn opt_u64(&mut self, key: &str) -> Result<Option<u64>> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.err(key, "a non-negative integer or null", &v)),
        }
    }

    pub(crate) fn bool_or(&mut self, key: &str, default: bool) -> Result<bool> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.err(key, "a boolean", &v)),
        }
    }

    pub(crate) fn string_or(&mut self, key: &str, default: &str) -> Result<String> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(self.err(key, "a string", &v)),
        }
    }

    pub(crate) fn opt_string(&mut self, key: &str) -> Result<Option<String>> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(key, "a string or null", &v)),
        }
    }

    pub(crate) fn f64_list(&mut self, key: &str) -> Result<Vec<f64>> {
        let v = self.take(key).ok_or_else(|| Error::InvalidArgument {
            op: "from_config",
            msg: format!("{}: missing required argument `{key}`", self.what),
        })?;
        let list = v
            .as_array()
            .ok_or_else(|| self.err(key, "a list of numbers", &v))?;
        list.iter()
            .map(|x| x.as_f64().ok_or_else(|| self.err(key, "a list of numbers", &v)))
            .collect()
    }

    /// Errors when keys are left.
    pub(crate) fn finish(self) -> Result<()> {
        if self.map.is_empty() {
            return Ok(());
        }
        let keys: Vec<&String> = self.map.keys().collect();
        Err(Error::InvalidArgument {
            op: "from_config",
            msg: format!("{}: argument(s) not recognized: {keys:?}", self.what),
        })
    }
}
