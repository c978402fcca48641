//! A small, defensive pickle machine: just the opcodes `torch.save` writes (protocols 2 to 5).
//!
//! Objects live in an arena and refer to each other by index, so memo references are shared (as in
//! Python) instead of deep-copied, nothing is recursive (no deep drops, no cycles to chase), and
//! memory grows with the bytes actually read. Classes are never imported: a `REDUCE` becomes a
//! [`Node::Call`] for the caller to interpret, except `collections.OrderedDict()` which is a dict.
//!
//! candle's `pickle` module was not reused: it deep-clones memo entries (crafted files blow up
//! exponentially), allocates string lengths before reading them, panics on the legacy format's
//! 10-byte magic number (`LONG1` shift overflow) and prints whole objects in its errors.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, Read};

/// A pickle stream longer than this is refused: a state dict of the miRe2e models takes ~25 KiB.
pub(crate) const MAX_PICKLE_BYTES: u64 = 4 << 20;

/// Longest `GLOBAL` module or class line.
const MAX_LINE: u64 = 256;

/// Index of an object in a [`Pickle`].
pub(crate) type Id = usize;

/// One unpickled object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    None,
    Bool(bool),
    Int(i64),
    /// An integer wider than 64 bits, as its little-endian two's complement bytes.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// A class or function named by `GLOBAL`, not imported.
    Global {
        module: String,
        name: String,
    },
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    /// `func(*args)` (REDUCE/NEWOBJ), with the state a later BUILD gave it.
    Call {
        func: Id,
        args: Id,
        state: Option<Id>,
    },
    /// A persistent id: the reference to data kept outside the pickle (torch storages).
    Persistent(Id),
}

/// An unpickled object graph and its root.
#[derive(Debug)]
pub(crate) struct Pickle {
    nodes: Vec<Node>,
    root: Id,
}

impl Pickle {
    /// The object returned by `STOP`.
    pub(crate) fn root(&self) -> Id {
        self.root
    }

    /// The object `id` (ids come from this pickle; a stray id reads as `None`).
    pub(crate) fn node(&self, id: Id) -> &Node {
        self.nodes.get(id).unwrap_or(&Node::None)
    }

    /// Every object, for scans that need no traversal (persistent ids).
    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The string `id`, if it is one.
    pub(crate) fn str(&self, id: Id) -> Option<&str> {
        match self.node(id) {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer `id`, if it is one.
    pub(crate) fn int(&self, id: Id) -> Option<i64> {
        match self.node(id) {
            Node::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The items of tuple `id`, if it is one.
    pub(crate) fn tuple(&self, id: Id) -> Option<&[Id]> {
        match self.node(id) {
            Node::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// `module.name` of global `id`, if it is one.
    pub(crate) fn global(&self, id: Id) -> Option<(&str, &str)> {
        match self.node(id) {
            Node::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }

    /// A one-line description of `id` for error messages (never recursive).
    pub(crate) fn describe(&self, id: Id) -> String {
        describe(&self.nodes, id)
    }
}

fn describe(nodes: &[Node], id: Id) -> String {
    match nodes.get(id).unwrap_or(&Node::None) {
        Node::None => "None".into(),
        Node::Bool(b) => if *b { "True" } else { "False" }.into(),
        Node::Int(v) => format!("the integer {v}"),
        Node::BigInt(_) => "a big integer".into(),
        Node::Float(v) => format!("the float {v}"),
        Node::Str(s) => format!("the string {:?}", truncate(s)),
        Node::Bytes(b) => format!("{} bytes", b.len()),
        Node::Global { module, name } => format!("the class {module}.{name}"),
        Node::Tuple(items) => format!("a tuple of {} items", items.len()),
        Node::List(items) => format!("a list of {} items", items.len()),
        Node::Dict(items) => format!("a dict of {} items", items.len()),
        Node::Call { func, .. } => match nodes.get(*func) {
            Some(Node::Global { module, name }) => format!("a {module}.{name} object"),
            _ => "an object".into(),
        },
        Node::Persistent(_) => "a persistent id".into(),
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_owned(),
    }
}

/// What went wrong, and at which byte of the pickle stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Error {
    /// Offset from the start of this pickle stream.
    pub(crate) offset: u64,
    pub(crate) message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (pickle byte {})", self.message, self.offset)
    }
}

/// Reads one pickle from `r`, consuming exactly up to and including its `STOP`.
pub(crate) fn load<R: BufRead>(r: &mut R) -> Result<Pickle, Error> {
    let mut machine = Machine::new(Input { r, pos: 0 });
    match machine.run() {
        Ok(root) => Ok(Pickle {
            nodes: machine.nodes,
            root,
        }),
        Err(message) => Err(Error {
            offset: machine.op_start,
            message,
        }),
    }
}

/// Reads with a position and the size cap.
struct Input<'a, R> {
    r: &'a mut R,
    pos: u64,
}

impl<R: BufRead> Input<'_, R> {
    fn take(&mut self, n: u64) -> Result<(), String> {
        self.pos = self.pos.saturating_add(n);
        if self.pos > MAX_PICKLE_BYTES {
            return Err(format!(
                "pickle stream longer than {} MiB: not a miRe2e state dict",
                MAX_PICKLE_BYTES >> 20
            ));
        }
        Ok(())
    }

    /// Exactly `n` bytes; memory grows only with what is actually there.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, String> {
        self.take(n)?;
        let mut buf = Vec::new();
        (&mut *self.r)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|e| format!("read failed: {e}"))?;
        if (buf.len() as u64) < n {
            return Err("truncated pickle".into());
        }
        Ok(buf)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        self.take(N as u64)?;
        let mut buf = [0; N];
        self.r.read_exact(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "truncated pickle".to_owned(),
            _ => format!("read failed: {e}"),
        })?;
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A `GLOBAL` line, without its newline.
    fn line(&mut self) -> Result<String, String> {
        let mut buf = Vec::new();
        (&mut *self.r)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("read failed: {e}"))?;
        self.take(buf.len() as u64)?;
        if buf.pop() != Some(b'\n') {
            return Err("unterminated or overlong GLOBAL name".into());
        }
        String::from_utf8(buf).map_err(|_| "GLOBAL name is not UTF-8".into())
    }
}

struct Machine<'a, R> {
    input: Input<'a, R>,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    /// Stack lengths at each MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Id>,
    /// Offset of the opcode being run, for errors.
    op_start: u64,
}

/// Shared nodes for the constants, so that a run of `N` bytes does not grow the arena.
const NONE: Id = 0;
const FALSE: Id = 1;
const TRUE: Id = 2;

impl<'a, R: BufRead> Machine<'a, R> {
    fn new(input: Input<'a, R>) -> Self {
        Self {
            input,
            nodes: vec![Node::None, Node::Bool(false), Node::Bool(true)],
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            op_start: 0,
        }
    }

    fn add(&mut self, node: Node) -> Id {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn push(&mut self, node: Node) {
        let id = self.add(node);
        self.stack.push(id);
    }

    fn pop(&mut self) -> Result<Id, String> {
        // Never pop below the innermost MARK: that is a corrupt stream.
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err("stack underflow".into());
        }
        self.stack.pop().ok_or_else(|| "stack underflow".into())
    }

    fn top(&self) -> Result<Id, String> {
        match self.stack.last() {
            Some(&id) if self.stack.len() > self.marks.last().copied().unwrap_or(0) => Ok(id),
            _ => Err("stack underflow".into()),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, String> {
        let mark = self.marks.pop().ok_or("no MARK on the stack")?;
        if mark > self.stack.len() {
            return Err("stack underflow".into());
        }
        Ok(self.stack.split_off(mark))
    }

    fn memo_get(&mut self, key: u32) -> Result<(), String> {
        let id = *self
            .memo
            .get(&key)
            .ok_or_else(|| format!("memo key {key} is not defined"))?;
        self.stack.push(id);
        Ok(())
    }

    fn memo_put(&mut self, key: u32) -> Result<(), String> {
        let id = self.top()?;
        self.memo.insert(key, id);
        Ok(())
    }

    fn string(&mut self, len: u64) -> Result<(), String> {
        let bytes = self.input.bytes(len)?;
        let s = String::from_utf8(bytes).map_err(|_| "string is not UTF-8".to_owned())?;
        self.push(Node::Str(s));
        Ok(())
    }

    fn long(&mut self, len: u64) -> Result<(), String> {
        let bytes = self.input.bytes(len)?;
        if bytes.len() > 8 {
            self.push(Node::BigInt(bytes));
            return Ok(());
        }
        // Little-endian two's complement, sign-extended from its top byte.
        let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
            0xff
        } else {
            0
        };
        let mut le = [fill; 8];
        le[..bytes.len()].copy_from_slice(&bytes);
        self.push(Node::Int(i64::from_le_bytes(le)));
        Ok(())
    }

    fn items_mut(&mut self, id: Id) -> Option<&mut Vec<Id>> {
        match self.nodes.get_mut(id) {
            Some(Node::List(items)) => Some(items),
            _ => None,
        }
    }

    fn append(&mut self, values: Vec<Id>) -> Result<(), String> {
        let list = self.top()?;
        match self.items_mut(list) {
            Some(items) => {
                items.extend(values);
                Ok(())
            }
            None => Err(format!("APPEND to {}", self.describe(list))),
        }
    }

    fn set_items(&mut self, flat: Vec<Id>) -> Result<(), String> {
        if !flat.len().is_multiple_of(2) {
            return Err("SETITEMS with an odd number of objects".into());
        }
        let dict = self.top()?;
        match self.nodes.get_mut(dict) {
            Some(Node::Dict(items)) => {
                items.extend(flat.chunks_exact(2).map(|kv| (kv[0], kv[1])));
                Ok(())
            }
            _ => Err(format!("SETITEM on {}", self.describe(dict))),
        }
    }

    fn describe(&self, id: Id) -> String {
        describe(&self.nodes, id)
    }

    /// REDUCE/NEWOBJ: an OrderedDict is just a dict; anything else stays a call.
    fn call(&mut self, func: Id, args: Id) {
        let is_dict = matches!(
            self.nodes.get(func),
            Some(Node::Global { module, name })
                if module == "collections" && name == "OrderedDict"
        ) && matches!(self.nodes.get(args), Some(Node::Tuple(a)) if a.is_empty());
        let node = if is_dict {
            Node::Dict(Vec::new())
        } else {
            Node::Call {
                func,
                args,
                state: None,
            }
        };
        self.push(node);
    }

    /// BUILD: a dict's state is its attributes (torch's `_metadata`), which a state dict ignores.
    fn build(&mut self) -> Result<(), String> {
        let state = self.pop()?;
        let obj = self.top()?;
        match self.nodes.get_mut(obj) {
            Some(Node::Dict(_)) => Ok(()),
            Some(Node::Call { state: slot, .. }) => {
                *slot = Some(state);
                Ok(())
            }
            _ => Err(format!("BUILD on {}", self.describe(obj))),
        }
    }

    fn run(&mut self) -> Result<Id, String> {
        loop {
            self.op_start = self.input.pos;
            let op = self.input.u8()?;
            match op {
                0x80 => {
                    let proto = self.input.u8()?;
                    if !(2..=5).contains(&proto) {
                        return Err(format!("unsupported pickle protocol {proto}"));
                    }
                }
                0x95 => {
                    self.input.u64()?; // FRAME: a length hint only
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    if self.stack.len() > self.marks.last().copied().unwrap_or(0) {
                        self.pop()?;
                    } else {
                        self.pop_mark()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let id = self.top()?;
                    self.stack.push(id);
                }
                b'N' => self.stack.push(NONE),
                0x88 => self.stack.push(TRUE),
                0x89 => self.stack.push(FALSE),
                b'J' => {
                    let v = i32::from_le_bytes(self.input.array()?);
                    self.push(Node::Int(v.into()));
                }
                b'K' => {
                    let v = self.input.u8()?;
                    self.push(Node::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.input.array()?);
                    self.push(Node::Int(v.into()));
                }
                0x8a => {
                    let n = self.input.u8()?;
                    self.long(n.into())?;
                }
                0x8b => {
                    let n = i32::from_le_bytes(self.input.array()?);
                    let n = u64::try_from(n).map_err(|_| "negative LONG4 length".to_owned())?;
                    self.long(n)?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.input.array()?);
                    self.push(Node::Float(v));
                }
                b'X' => {
                    let n = self.input.u32()?;
                    self.string(n.into())?;
                }
                0x8c => {
                    let n = self.input.u8()?;
                    self.string(n.into())?;
                }
                0x8d => {
                    let n = self.input.u64()?;
                    self.string(n)?;
                }
                b'B' | b'C' | 0x8e => {
                    let n = match op {
                        b'B' => self.input.u32()?.into(),
                        b'C' => self.input.u8()?.into(),
                        _ => self.input.u64()?,
                    };
                    let bytes = self.input.bytes(n)?;
                    self.push(Node::Bytes(bytes));
                }
                b'c' => {
                    let module = self.input.line()?;
                    let name = self.input.line()?;
                    self.push(Node::Global { module, name });
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(Node::Str(module)), Some(Node::Str(name))) =
                        (self.nodes.get(module), self.nodes.get(name))
                    else {
                        return Err("STACK_GLOBAL needs two strings".into());
                    };
                    let node = Node::Global {
                        module: module.clone(),
                        name: name.clone(),
                    };
                    self.push(node);
                }
                b'q' => {
                    let key = self.input.u8()?;
                    self.memo_put(key.into())?;
                }
                b'r' => {
                    let key = self.input.u32()?;
                    self.memo_put(key)?;
                }
                0x94 => {
                    let key =
                        u32::try_from(self.memo.len()).map_err(|_| "memo overflow".to_owned())?;
                    self.memo_put(key)?;
                }
                b'h' => {
                    let key = self.input.u8()?;
                    self.memo_get(key.into())?;
                }
                b'j' => {
                    let key = self.input.u32()?;
                    self.memo_get(key)?;
                }
                b')' => self.push(Node::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Node::Tuple(items));
                }
                b']' => self.push(Node::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items));
                }
                b'a' => {
                    let value = self.pop()?;
                    self.append(vec![value])?;
                }
                b'e' => {
                    let values = self.pop_mark()?;
                    self.append(values)?;
                }
                b'}' => self.push(Node::Dict(Vec::new())),
                b'd' => {
                    let flat = self.pop_mark()?;
                    if flat.len() % 2 != 0 {
                        return Err("DICT with an odd number of objects".into());
                    }
                    let items = flat.chunks_exact(2).map(|kv| (kv[0], kv[1])).collect();
                    self.push(Node::Dict(items));
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.set_items(vec![key, value])?;
                }
                b'u' => {
                    let flat = self.pop_mark()?;
                    self.set_items(flat)?;
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.push(Node::Persistent(id));
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    self.call(func, args);
                }
                b'b' => self.build()?,
                _ => return Err(format!("unsupported pickle opcode 0x{op:02x}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> Result<Pickle, Error> {
        load(&mut &bytes[..])
    }

    fn root(bytes: &[u8]) -> Node {
        let p = run(bytes).unwrap();
        p.node(p.root()).clone()
    }

    fn err(bytes: &[u8]) -> String {
        run(bytes).unwrap_err().message
    }

    #[test]
    fn integers() {
        assert_eq!(root(b"K\x07."), Node::Int(7));
        assert_eq!(root(b"M\x01\x02."), Node::Int(0x0201));
        assert_eq!(root(b"J\xff\xff\xff\xff."), Node::Int(-1));
        assert_eq!(root(b"\x8a\x00."), Node::Int(0));
        assert_eq!(root(b"\x8a\x02\x00\x80."), Node::Int(-32768));
        assert_eq!(
            root(b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f."),
            Node::Int(i64::MAX)
        );
        // the legacy format's magic number is 10 bytes wide
        let magic = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";
        assert!(matches!(root(magic), Node::BigInt(b) if b.len() == 10));
    }

    #[test]
    fn floats_strings_constants() {
        assert_eq!(
            root(b"G\x3f\xf8\x00\x00\x00\x00\x00\x00."),
            Node::Float(1.5)
        );
        assert_eq!(root(b"X\x03\x00\x00\x00abc."), Node::Str("abc".into()));
        assert_eq!(root(b"\x8c\x02hi."), Node::Str("hi".into()));
        assert_eq!(root(b"C\x02\x00\x01."), Node::Bytes(vec![0, 1]));
        assert_eq!(root(b"N."), Node::None);
        assert_eq!(root(b"\x88."), Node::Bool(true));
    }

    #[test]
    fn containers() {
        let p = run(b"(K\x01K\x02K\x03t.").unwrap();
        let items = p.tuple(p.root()).unwrap();
        assert_eq!(
            items.iter().map(|&i| p.int(i).unwrap()).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let p = run(b"K\x01K\x02\x86.").unwrap();
        assert_eq!(p.tuple(p.root()).unwrap().len(), 2);
        let p = run(b"](K\x01K\x02eK\x03a.").unwrap();
        assert!(matches!(p.node(p.root()), Node::List(items) if items.len() == 3));
        // SETITEMS keeps insertion order
        let p = run(b"}(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00bK\x02uX\x01\x00\x00\x00cK\x03s.")
            .unwrap();
        let Node::Dict(items) = p.node(p.root()) else {
            panic!()
        };
        let keys: Vec<&str> = items.iter().map(|&(k, _)| p.str(k).unwrap()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
    }

    #[test]
    fn memo_shares_objects_like_python() {
        // a dict memoised empty, filled, then fetched again: the fetch sees the items
        let p = run(b"]q\x00}q\x01ah\x01(X\x01\x00\x00\x00kK\x05u0h\x01a.").unwrap();
        let Node::List(items) = p.node(p.root()) else {
            panic!()
        };
        assert_eq!(items[0], items[1]);
        assert!(matches!(p.node(items[1]), Node::Dict(d) if d.len() == 1));
    }

    #[test]
    fn memo_doubling_stays_small() {
        // each step makes a pair of the previous object: 2^200 leaves if memo copied deeply
        let mut bytes = b"Nq\x00".to_vec();
        for _ in 0..200 {
            bytes.extend_from_slice(b"h\x00h\x00\x86q\x00");
        }
        bytes.push(b'.');
        let p = run(&bytes).unwrap();
        assert!(p.nodes().len() < 1000);
    }

    #[test]
    fn deep_nesting_is_not_recursive() {
        let mut bytes = b"N".to_vec();
        bytes.extend(std::iter::repeat_n(0x85, 1_000_000));
        bytes.push(b'.');
        let p = run(&bytes).unwrap();
        assert_eq!(p.nodes().len(), 1_000_003);
        drop(p); // no recursive drop to overflow the stack
    }

    #[test]
    fn ordered_dict_reduce_and_build() {
        // collections.OrderedDict() then BUILD with attributes (torch's _metadata): a plain dict
        let p =
            run(b"\x80\x02ccollections\nOrderedDict\nq\x00)R}(X\x01\x00\x00\x00mK\x01ub.").unwrap();
        assert!(matches!(p.node(p.root()), Node::Dict(items) if items.is_empty()));
        let p = run(b"cmod\nFn\n(K\x01tR}b.").unwrap();
        let Node::Call { func, args, state } = p.node(p.root()) else {
            panic!()
        };
        assert_eq!(p.global(*func), Some(("mod", "Fn")));
        assert_eq!(p.tuple(*args).map(<[Id]>::len), Some(1));
        assert!(state.is_some());
        assert_eq!(p.describe(p.root()), "a mod.Fn object");
    }

    #[test]
    fn persistent_ids_and_stack_global() {
        let p = run(b"(X\x07\x00\x00\x00storageK\x00tQ.").unwrap();
        assert!(matches!(p.node(p.root()), Node::Persistent(_)));
        let p = run(b"\x8c\x05torch\x8c\x0cFloatStorage\x93.").unwrap();
        assert_eq!(p.global(p.root()), Some(("torch", "FloatStorage")));
    }

    #[test]
    fn stops_right_after_stop() {
        let bytes = b"K\x01.K\x02.";
        let mut r = &bytes[..];
        assert_eq!(load(&mut r).map(|p| p.int(p.root())), Ok(Some(1)));
        assert_eq!(load(&mut r).map(|p| p.int(p.root())), Ok(Some(2)));
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn corrupt_streams_are_errors() {
        assert_eq!(err(b""), "truncated pickle");
        assert_eq!(err(b"K"), "truncated pickle");
        assert_eq!(err(b"K\x01"), "truncated pickle");
        // a 4 GiB string length on a short stream: refused by the size cap, nothing allocated
        assert!(err(b"X\xff\xff\xff\xffabc.").contains("longer than 4 MiB"));
        assert_eq!(err(b"X\x10\x00\x00\x00abc."), "truncated pickle");
        assert_eq!(err(b"X\x02\x00\x00\x00\xff\xfe."), "string is not UTF-8");
        assert_eq!(err(b"\xff"), "unsupported pickle opcode 0xff");
        assert_eq!(err(b"\x80\x09."), "unsupported pickle protocol 9");
        assert_eq!(err(b"."), "stack underflow");
        assert_eq!(err(b"t."), "no MARK on the stack");
        assert_eq!(err(b"K\x01(\x85."), "stack underflow");
        assert_eq!(err(b"h\x05."), "memo key 5 is not defined");
        assert_eq!(err(b"K\x01K\x02a."), "APPEND to the integer 1");
        assert_eq!(err(b"}(K\x01u."), "SETITEMS with an odd number of objects");
        assert_eq!(err(b"K\x01K\x02\x93."), "STACK_GLOBAL needs two strings");
        assert_eq!(
            err(b"cmodule-without-newline"),
            "unterminated or overlong GLOBAL name"
        );
        assert_eq!(err(b"K\x01K\x02b."), "BUILD on the integer 1");
        let e = run(b"K\x01K\x02\xfe").unwrap_err();
        assert_eq!(e.offset, 4);
        assert_eq!(
            e.to_string(),
            "unsupported pickle opcode 0xfe (pickle byte 4)"
        );
    }

    #[test]
    fn size_cap() {
        let mut bytes = vec![b'N'; MAX_PICKLE_BYTES as usize + 10];
        bytes.push(b'.');
        assert!(err(&bytes).contains("longer than 4 MiB"));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // bytes drawn mostly from the opcodes torch uses, so that runs get deep into the machine
        const OPS: &[u8] = b"\x80\x02}q(XcKMJNtQ\x85\x86\x87\x89\x88hjr)R]aeusb.G\x8a";
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 4 == 0 {
                        (r >> 8) as u8
                    } else {
                        OPS[(r >> 8) as usize % OPS.len()]
                    }
                })
                .collect();
            let _ = run(&bytes);
        }
    }
}
