//! A restricted unpickler: enough of Python's pickle machine to read the NumPy arrays that
//! Keras's dataset files store as pickles (IMDB and Reuters object arrays, CIFAR's Python
//! batches), and nothing else.
//!
//! As Keras's `RestrictedUnpickler` (keras/src/datasets/npz_utils.py), it accepts only the
//! globals `numpy.ndarray`, `numpy.dtype` and `numpy{,._core,.core}.multiarray._reconstruct`,
//! and it runs no code: `REDUCE` and `BUILD` on those three are interpreted here. Lengths are
//! checked against the bytes left before anything is allocated, and values are taken apart
//! without recursion, so a hostile stream cannot exhaust memory or the stack.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A Python value of the kinds NumPy's pickles use.
#[derive(Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// A float (no dataset needs its value).
    Float,
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    List(Rc<RefCell<Vec<Value>>>),
    Tuple(Rc<Vec<Value>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Global(Global),
    Array(Rc<RefCell<Array>>),
    DType(Rc<RefCell<DTypeObj>>),
}

/// Shallow, so that printing a deeply nested value cannot overflow the stack.
impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::None => write!(f, "None"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float => write!(f, "<float>"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::List(l) => write!(f, "<list of {}>", l.borrow().len()),
            Value::Tuple(t) => write!(f, "<tuple of {}>", t.len()),
            Value::Dict(d) => write!(f, "<dict of {}>", d.borrow().len()),
            Value::Global(_) => write!(f, "<numpy global>"),
            Value::Array(a) => write!(f, "<ndarray {:?}>", a.borrow().shape),
            Value::DType(d) => write!(f, "<dtype {}>", d.borrow().code),
        }
    }
}

/// The three globals allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Global {
    Reconstruct,
    NdArray,
    DType,
}

/// A `numpy.dtype` being rebuilt: its `descr` code (`"O8"`, `"u1"`, `"i8"`, …) and byte order.
#[derive(Clone, Default)]
pub(crate) struct DTypeObj {
    pub(crate) code: String,
    pub(crate) byteorder: char,
}

/// A `numpy.ndarray` being rebuilt.
#[derive(Default)]
pub(crate) struct Array {
    pub(crate) shape: Vec<usize>,
    pub(crate) dtype: Option<DTypeObj>,
    pub(crate) fortran: bool,
    pub(crate) data: ArrayData,
}

/// An array's contents: raw bytes (numeric dtypes) or Python objects (`dtype=object`).
#[derive(Default)]
pub(crate) enum ArrayData {
    #[default]
    Empty,
    Raw(Rc<[u8]>),
    Objects(Vec<Value>),
}

/// Unpickles `data`. Errors are messages without the file name (the caller adds it).
pub(crate) fn unpickle(data: &[u8]) -> Result<Value, String> {
    let mut vm = Vm {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    vm.run()
}

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

impl Drop for Vm<'_> {
    fn drop(&mut self) {
        let mut all: Vec<Value> = std::mem::take(&mut self.stack);
        all.extend(std::mem::take(&mut self.memo).into_values());
        dismantle_all(all);
    }
}

/// Drops values without recursion (a deeply nested list would otherwise overflow the stack
/// in the recursive drop).
pub(crate) fn dismantle_all(mut work: Vec<Value>) {
    while let Some(v) = work.pop() {
        match v {
            Value::List(rc) => {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    work.extend(cell.into_inner());
                }
            }
            Value::Tuple(rc) => {
                if let Ok(items) = Rc::try_unwrap(rc) {
                    work.extend(items);
                }
            }
            Value::Dict(rc) => {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    for (k, v) in cell.into_inner() {
                        work.push(k);
                        work.push(v);
                    }
                }
            }
            Value::Array(rc) => {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    if let ArrayData::Objects(items) = cell.into_inner().data {
                        work.extend(items);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Vm<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let left = self.data.len() - self.pos;
        if n > left {
            return Err(format!(
                "pickle ends early: {n} bytes wanted at offset {}, {left} left",
                self.pos
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64_len(&mut self) -> Result<usize, String> {
        let b = self.take(8)?;
        let v = u64::from_le_bytes(b.try_into().map_err(|_| "bad length".to_string())?);
        usize::try_from(v).map_err(|_| format!("length {v} too large"))
    }

    fn line(&mut self) -> Result<&str, String> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("pickle text argument has no end of line")?;
        let s = std::str::from_utf8(&rest[..end]).map_err(|_| "pickle text argument is not UTF-8")?;
        self.pos += end + 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<Value, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err("pickle stack underflow".into());
        }
        self.stack.pop().ok_or_else(|| "pickle stack underflow".into())
    }

    fn top(&self) -> Result<&Value, String> {
        self.stack.last().ok_or_else(|| "pickle stack underflow".into())
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let m = self.marks.pop().ok_or("pickle MARK missing")?;
        if m > self.stack.len() {
            return Err("pickle MARK beyond the stack".into());
        }
        Ok(self.stack.split_off(m))
    }

    fn memo_put(&mut self, key: u32) -> Result<(), String> {
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), String> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| format!("pickle memo {key} is not set"))?;
        self.stack.push(v);
        Ok(())
    }

    fn push_bytes(&mut self, n: usize) -> Result<(), String> {
        let b: Rc<[u8]> = Rc::from(self.take(n)?);
        self.stack.push(Value::Bytes(b));
        Ok(())
    }

    fn push_str(&mut self, n: usize) -> Result<(), String> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| "pickle string is not UTF-8".to_string())?;
        let s: Rc<str> = Rc::from(s);
        self.stack.push(Value::Str(s));
        Ok(())
    }

    fn push_long(&mut self, n: usize) -> Result<(), String> {
        let b = self.take(n)?;
        if n > 8 {
            return Err(format!("pickle integer of {n} bytes is too large"));
        }
        let mut v: i64 = 0;
        for (i, &byte) in b.iter().enumerate() {
            v |= (byte as i64) << (8 * i);
        }
        if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
            v -= 1i64 << (8 * n);
        }
        self.stack.push(Value::Int(v));
        Ok(())
    }

    fn run(&mut self) -> Result<Value, String> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(format!("pickle protocol {proto} is not supported"));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a size hint only
                }
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    let items = self.pop_mark()?;
                    dismantle_all(items);
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'I' => {
                    let v = match self.line()? {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        s => Value::Int(s.trim().parse().map_err(|_| format!("bad pickle INT {s:?}"))?),
                    };
                    self.stack.push(v);
                }
                b'L' => {
                    let s = self.line()?;
                    let v = s
                        .trim_end_matches('L')
                        .parse()
                        .map_err(|_| format!("bad pickle LONG {s:?}"))?;
                    self.stack.push(Value::Int(v));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'M' => {
                    let b = self.take(2)?;
                    let v = u16::from_le_bytes([b[0], b[1]]);
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    self.push_long(n)?;
                }
                0x8b => {
                    let n = self.u32()? as usize;
                    self.push_long(n)?;
                }
                b'G' => {
                    let b = self.take(8)?;
                    let _ = f64::from_be_bytes(b.try_into().map_err(|_| "bad float".to_string())?);
                    self.stack.push(Value::Float);
                }
                b'F' => {
                    let s = self.line()?;
                    s.trim()
                        .parse::<f64>()
                        .map_err(|_| format!("bad pickle FLOAT {s:?}"))?;
                    self.stack.push(Value::Float);
                }
                // Python 2 `str` (BINSTRING, SHORT_BINSTRING) is kept as bytes, as
                // `encoding="bytes"` does.
                b'T' => {
                    let n = self.u32()? as usize;
                    self.push_bytes(n)?;
                }
                b'U' => {
                    let n = self.u8()? as usize;
                    self.push_bytes(n)?;
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    self.push_bytes(n)?;
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    self.push_bytes(n)?;
                }
                0x8e => {
                    let n = self.u64_len()?;
                    self.push_bytes(n)?;
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    self.push_str(n)?;
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    self.push_str(n)?;
                }
                0x8d => {
                    let n = self.u64_len()?;
                    self.push_str(n)?;
                }
                b']' => self.stack.push(Value::List(Rc::new(RefCell::new(Vec::new())))),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.top()? {
                        Value::List(l) => l.borrow_mut().push(v),
                        _ => return Err("pickle APPEND to a non-list".into()),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::List(l) => l.borrow_mut().extend(items),
                        _ => return Err("pickle APPENDS to a non-list".into()),
                    }
                }
                b')' => self.stack.push(Value::Tuple(Rc::new(Vec::new()))),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(Rc::new(items)));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let floor = self.marks.last().copied().unwrap_or(0);
                    if self.stack.len() < floor + n {
                        return Err("pickle stack underflow".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(Rc::new(items)));
                }
                b'}' => self.stack.push(Value::Dict(Rc::new(RefCell::new(Vec::new())))),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.stack.push(Value::Dict(Rc::new(RefCell::new(pairs))));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    match self.top()? {
                        Value::Dict(d) => d.borrow_mut().push((k, v)),
                        _ => return Err("pickle SETITEM on a non-dict".into()),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let p = pairs(items)?;
                    match self.top()? {
                        Value::Dict(d) => d.borrow_mut().extend(p),
                        _ => return Err("pickle SETITEMS on a non-dict".into()),
                    }
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.stack.push(Value::Global(global(&module, &name)?));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(global(&m, &n)?)),
                        _ => return Err("pickle STACK_GLOBAL needs two strings".into()),
                    }
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let v = reduce(f, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    build(self.top()?, state)?;
                }
                b'p' => {
                    let s = self.line()?;
                    let k = s.trim().parse().map_err(|_| format!("bad pickle PUT {s:?}"))?;
                    self.memo_put(k)?;
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = u32::try_from(self.memo.len()).map_err(|_| "pickle memo too large")?;
                    self.memo_put(k)?;
                }
                b'g' => {
                    let s = self.line()?;
                    let k = s.trim().parse().map_err(|_| format!("bad pickle GET {s:?}"))?;
                    self.memo_get(k)?;
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    self.memo_get(k)?;
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k)?;
                }
                _ => {
                    return Err(format!(
                        "pickle opcode 0x{op:02x} at offset {at} is not supported (only NumPy arrays \
                         of numbers and lists are read)"
                    ))
                }
            }
        }
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
    if items.len() % 2 != 0 {
        return Err("pickle dict with an odd number of items".into());
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn global(module: &str, name: &str) -> Result<Global, String> {
    match (module, name) {
        ("numpy", "ndarray") => Ok(Global::NdArray),
        ("numpy", "dtype") => Ok(Global::DType),
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => Ok(Global::Reconstruct),
        _ => Err(format!(
            "refusing to load `{module}.{name}` from a pickle: only NumPy arrays are allowed (the file may \
             be corrupt or malicious)"
        )),
    }
}

/// The text of a `str` or `bytes` value.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.to_string()),
        Value::Bytes(b) => Some(b.iter().map(|&c| c as char).collect()),
        _ => None,
    }
}

fn reduce(f: Value, args: Value) -> Result<Value, String> {
    let Value::Tuple(args) = args else {
        return Err("pickle REDUCE arguments are not a tuple".into());
    };
    match f {
        Value::Global(Global::Reconstruct) => match args.first() {
            Some(Value::Global(Global::NdArray)) => Ok(Value::Array(Rc::new(RefCell::new(Array::default())))),
            _ => Err("_reconstruct of something other than numpy.ndarray".into()),
        },
        Value::Global(Global::DType) => {
            let code = args
                .first()
                .and_then(text)
                .ok_or("numpy.dtype without a type code")?;
            Ok(Value::DType(Rc::new(RefCell::new(DTypeObj {
                code,
                byteorder: '=',
            }))))
        }
        _ => Err("pickle REDUCE of something other than numpy's array constructors".into()),
    }
}

fn build(target: &Value, state: Value) -> Result<(), String> {
    let Value::Tuple(state) = state else {
        return Err("pickle BUILD state is not a tuple".into());
    };
    match target {
        Value::DType(d) => {
            if let Some(order) = state.get(1).and_then(text) {
                d.borrow_mut().byteorder = order.chars().next().unwrap_or('=');
            }
            Ok(())
        }
        Value::Array(a) => {
            // (version, shape, dtype, is_fortran, data); old pickles omit the version.
            let s: &[Value] = if state.len() == 5 { &state[1..] } else { &state[..] };
            if s.len() != 4 {
                return Err(format!(
                    "ndarray state has {} items, expected 4 or 5",
                    state.len()
                ));
            }
            let shape = match &s[0] {
                Value::Tuple(t) => t
                    .iter()
                    .map(|d| match d {
                        Value::Int(n) if *n >= 0 => Ok(*n as usize),
                        _ => Err("ndarray shape is not a tuple of sizes".to_string()),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err("ndarray shape is not a tuple".into()),
            };
            let dtype = match &s[1] {
                Value::DType(d) => d.borrow().clone(),
                _ => return Err("ndarray dtype is not a numpy.dtype".into()),
            };
            let fortran = matches!(s[2], Value::Bool(true) | Value::Int(1));
            let data = match &s[3] {
                Value::Bytes(b) => ArrayData::Raw(b.clone()),
                Value::Str(t) => {
                    ArrayData::Raw(t.chars().map(|c| c as u32 as u8).collect::<Vec<u8>>().into())
                }
                Value::List(l) => ArrayData::Objects(l.borrow().clone()),
                _ => return Err("ndarray data is neither bytes nor a list".into()),
            };
            let mut a = a.borrow_mut();
            a.shape = shape;
            a.dtype = Some(dtype);
            a.fortran = fortran;
            a.data = data;
            Ok(())
        }
        _ => Err("pickle BUILD on something other than a NumPy array or dtype".into()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small pickle writer for tests: protocol 2 opcodes, as NumPy 1.x and Python 2 write.
    pub(crate) struct Writer(pub(crate) Vec<u8>);

    impl Writer {
        pub(crate) fn new() -> Writer {
            Writer(vec![0x80, 2])
        }
        pub(crate) fn int(&mut self, v: i64) {
            if (0..256).contains(&v) {
                self.0.extend([b'K', v as u8]);
            } else if (0..65536).contains(&v) {
                self.0.push(b'M');
                self.0.extend((v as u16).to_le_bytes());
            } else if i32::try_from(v).is_ok() {
                self.0.push(b'J');
                self.0.extend((v as i32).to_le_bytes());
            } else {
                self.0.extend([0x8a, 8]);
                self.0.extend(v.to_le_bytes());
            }
        }
        pub(crate) fn global(&mut self, module: &str, name: &str) {
            self.0.push(b'c');
            self.0.extend(module.bytes());
            self.0.push(b'\n');
            self.0.extend(name.bytes());
            self.0.push(b'\n');
        }
        pub(crate) fn bin_string(&mut self, b: &[u8]) {
            self.0.push(b'T');
            self.0.extend((b.len() as u32).to_le_bytes());
            self.0.extend(b);
        }
        /// `_reconstruct(ndarray, (0,), 'b')` then BUILD with `dtype(code)`, `shape`, and
        /// `data` written by `data`.
        pub(crate) fn array(&mut self, code: &str, shape: &[usize], data: impl FnOnce(&mut Writer)) {
            self.global("numpy.core.multiarray", "_reconstruct");
            self.global("numpy", "ndarray");
            self.int(0);
            self.0.push(0x85);
            self.0.extend([b'U', 1, b'b']);
            self.0.push(0x87);
            self.0.push(b'R');
            self.0.push(b'(');
            self.int(1);
            self.0.push(b'(');
            for &d in shape {
                self.int(d as i64);
            }
            self.0.push(b't');
            self.global("numpy", "dtype");
            self.0.extend([b'U', code.len() as u8]);
            self.0.extend(code.bytes());
            self.int(0);
            self.int(1);
            self.0.push(0x87);
            self.0.push(b'R');
            self.0.push(b'(');
            self.int(3);
            self.0.extend([b'U', 1, b'|']);
            self.0.extend(b"NNN");
            self.int(-1);
            self.int(-1);
            self.int(0);
            self.0.push(b't');
            self.0.push(b'b');
            self.0.push(0x89);
            data(self);
            self.0.push(b't');
            self.0.push(b'b');
        }
        /// An object array of lists of ints.
        pub(crate) fn object_array(&mut self, seqs: &[Vec<i64>]) {
            self.array("O8", &[seqs.len()], |w| {
                w.0.extend([b']', b'(']);
                for s in seqs {
                    w.0.extend([b']', b'(']);
                    for &v in s {
                        w.int(v);
                    }
                    w.0.push(b'e');
                }
                w.0.push(b'e');
            });
        }
        pub(crate) fn finish(mut self) -> Vec<u8> {
            self.0.push(b'.');
            self.0
        }
    }

    fn lists_of(v: &Value) -> Vec<Vec<i64>> {
        let Value::Array(a) = v else {
            panic!("not an array")
        };
        let a = a.borrow();
        let ArrayData::Objects(items) = &a.data else {
            panic!("not objects")
        };
        items
            .iter()
            .map(|x| match x {
                Value::List(l) => l
                    .borrow()
                    .iter()
                    .map(|y| if let Value::Int(i) = y { *i } else { panic!() })
                    .collect(),
                _ => panic!("not a list"),
            })
            .collect()
    }

    #[test]
    fn numpy2_protocol4_object_array() {
        // np.save(buf, a, allow_pickle=True) with a = [[1, 2, 300], [70000, 5]] (object),
        // NumPy 2.5.5: the pickle after the .npy header.
        let bytes: &[u8] = b"\x80\x04\x95\xa0\x00\x00\x00\x00\x00\x00\x00\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01K\x02\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02O8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?t\x94b\x89]\x94(]\x94(K\x01K\x02M,\x01e]\x94(Jp\x11\x01\x00K\x05eet\x94b.";
        let v = unpickle(bytes).unwrap();
        if let Value::Array(a) = &v {
            assert_eq!(a.borrow().shape, [2]);
            assert_eq!(a.borrow().dtype.as_ref().unwrap().code, "O8");
        }
        assert_eq!(lists_of(&v), vec![vec![1, 2, 300], vec![70000, 5]]);
    }

    #[test]
    fn protocol2_writer_round_trip() {
        let seqs = vec![vec![1, -5, 1 << 40], vec![], vec![65535, 65536]];
        let mut w = Writer::new();
        w.object_array(&seqs);
        let v = unpickle(&w.finish()).unwrap();
        assert_eq!(lists_of(&v), seqs);
    }

    #[test]
    fn refuses_other_globals_and_bad_streams() {
        let mut w = Writer::new();
        w.global("os", "system");
        let err = unpickle(&w.finish()).err().unwrap();
        assert!(err.contains("refusing to load `os.system`"), "{err}");
        // Truncated.
        let mut w = Writer::new();
        w.object_array(&[vec![1, 2, 3]]);
        let full = w.finish();
        for cut in [1, 5, full.len() / 2, full.len() - 1] {
            assert!(unpickle(&full[..cut]).is_err(), "cut at {cut}");
        }
        // A length that points past the end.
        assert!(unpickle(b"\x80\x02T\xff\xff\xff\x7f")
            .unwrap_err()
            .contains("ends early"));
        // Underflow and unknown opcodes.
        assert!(unpickle(b"a").is_err());
        assert!(unpickle(b"\x80\x02\xff").unwrap_err().contains("not supported"));
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        // L0 = []; memo 0; repeat: get prev, new list, memo it, append — nesting 200k deep.
        let mut p = vec![0x80, 2, b']', b'r', 0, 0, 0, 0];
        for i in 1u32..200_000 {
            p.push(b'j');
            p.extend((i - 1).to_le_bytes());
            p.extend([b']', b'r']);
            p.extend(i.to_le_bytes());
            p.push(b'a');
            p.push(b'0');
        }
        p.extend([b'j', 0, 0, 0, 0, b'.']);
        let v = unpickle(&p).unwrap();
        dismantle_all(vec![v]);
    }
}
