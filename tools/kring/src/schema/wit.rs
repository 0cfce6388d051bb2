// SPDX-License-Identifier: GPL-2.0 OR MIT
//! WIT sources to [`Type`]s, through the Bytecode Alliance `wit-parser`.

use std::path::Path;

use wit_parser::{PackageId, Resolve, TypeDefKind, TypeId, WorldItem, WorldKey};

use super::program::MAX_DEPTH;
use super::{SchemaError, Type};

/// A resolver that sees every `@unstable` feature (a schema may well use gated types).
pub(crate) fn resolver() -> Resolve {
    let mut r = Resolve::new();
    r.all_features = true;
    r
}

/// Parses the WIT package `source`.
pub(crate) fn parse_str(source: &str) -> Result<(Resolve, PackageId), SchemaError> {
    let mut r = resolver();
    let pkg = r.push_str("schema.wit", source).map_err(|e| SchemaError::Parse(format!("{e:#}")))?;
    Ok((r, pkg))
}

/// Parses a WIT file or a package directory (with its `deps/`).
pub(crate) fn parse_path(path: &Path) -> Result<(Resolve, PackageId), SchemaError> {
    let mut r = resolver();
    let (pkg, _) = r.push_path(path).map_err(|e| SchemaError::Parse(format!("{e:#}")))?;
    Ok((r, pkg))
}

/// Every named type of package `pkg` as `(interface or world name, type name, id)`.
fn types_of(r: &Resolve, pkg: PackageId) -> Vec<(String, String, TypeId)> {
    let mut out = Vec::new();
    let p = &r.packages[pkg];
    for (iname, &iid) in &p.interfaces {
        for (tname, &tid) in &r.interfaces[iid].types {
            out.push((iname.clone(), tname.clone(), tid));
        }
    }
    for (wname, &wid) in &p.worlds {
        for (key, item) in &r.worlds[wid].imports {
            if let (WorldKey::Name(tname), WorldItem::Type { id, .. }) = (key, item) {
                out.push((wname.clone(), tname.clone(), *id));
            }
        }
    }
    out
}

/// Finds `name` (`type` or `interface.type`, also `world.type`) in package `pkg`.
pub(crate) fn find(r: &Resolve, pkg: PackageId, name: &str) -> Result<TypeId, SchemaError> {
    let all = types_of(r, pkg);
    let (scope, tname) = match name.rsplit_once('.') {
        Some((s, t)) => (Some(s), t),
        None => (None, name),
    };
    let hits: Vec<&(String, String, TypeId)> =
        all.iter().filter(|(s, t, _)| t == tname && scope.is_none_or(|want| want == s)).collect();
    match hits.as_slice() {
        [one] => Ok(one.2),
        [] => {
            let known: Vec<String> = all.iter().map(|(s, t, _)| format!("{s}.{t}")).collect();
            Err(SchemaError::UnknownType(format!(
                "no type `{name}` in package {} (it has: {})",
                r.packages[pkg].name,
                if known.is_empty() { "no types".to_owned() } else { known.join(", ") }
            )))
        }
        many => {
            let list: Vec<String> = many.iter().map(|(s, t, _)| format!("{s}.{t}")).collect();
            Err(SchemaError::UnknownType(format!("type name `{name}` is ambiguous: {}", list.join(", "))))
        }
    }
}

fn unsupported(name: &str, what: &str) -> SchemaError {
    SchemaError::Unsupported(format!("`{name}`: {what} types cannot be part of a message schema"))
}

/// Converts a WIT type to a [`Type`], resolving aliases. `level` bounds the recursion.
pub(crate) fn convert(r: &Resolve, ty: &wit_parser::Type, level: usize) -> Result<Type, SchemaError> {
    use wit_parser::Type as W;
    if level > MAX_DEPTH {
        return Err(SchemaError::Unsupported(format!("type nesting deeper than {MAX_DEPTH} levels")));
    }
    let mut id = match ty {
        W::Bool => return Ok(Type::Bool),
        W::U8 => return Ok(Type::U8),
        W::U16 => return Ok(Type::U16),
        W::U32 => return Ok(Type::U32),
        W::U64 => return Ok(Type::U64),
        W::S8 => return Ok(Type::S8),
        W::S16 => return Ok(Type::S16),
        W::S32 => return Ok(Type::S32),
        W::S64 => return Ok(Type::S64),
        W::F32 => return Ok(Type::F32),
        W::F64 => return Ok(Type::F64),
        W::Char => return Ok(Type::Char),
        W::String => return Ok(Type::String),
        W::ErrorContext => return Err(unsupported("error-context", "error-context")),
        W::Id(id) => *id,
    };
    // Aliases (`type a = b;`): follow without recursion; the resolver refuses cycles, the bound
    // is only a safety net.
    for _ in 0..4096 {
        let def = &r.types[id];
        let name = def.name.clone().unwrap_or_default();
        let sub = |t: &wit_parser::Type| convert(r, t, level + 1);
        return Ok(match &def.kind {
            TypeDefKind::Type(W::Id(next)) => {
                id = *next;
                continue;
            }
            TypeDefKind::Type(t) => convert(r, t, level)?,
            TypeDefKind::Record(rec) => Type::Record {
                name,
                fields: rec
                    .fields
                    .iter()
                    .map(|f| Ok((f.name.clone(), sub(&f.ty)?)))
                    .collect::<Result<_, SchemaError>>()?,
            },
            TypeDefKind::Tuple(t) => Type::Tuple(t.types.iter().map(sub).collect::<Result<_, _>>()?),
            TypeDefKind::Variant(v) => Type::Variant {
                name,
                cases: v
                    .cases
                    .iter()
                    .map(|c| Ok((c.name.clone(), c.ty.as_ref().map(sub).transpose()?)))
                    .collect::<Result<_, SchemaError>>()?,
            },
            TypeDefKind::Enum(e) => Type::Enum { name, cases: e.cases.iter().map(|c| c.name.clone()).collect() },
            TypeDefKind::Flags(f) => Type::Flags { name, flags: f.flags.iter().map(|f| f.name.clone()).collect() },
            TypeDefKind::Option(t) => Type::Option(Box::new(sub(t)?)),
            TypeDefKind::Result(res) => Type::Result {
                ok: res.ok.as_ref().map(sub).transpose()?.map(Box::new),
                err: res.err.as_ref().map(sub).transpose()?.map(Box::new),
            },
            TypeDefKind::List(t) => Type::List(Box::new(sub(t)?)),
            TypeDefKind::FixedLengthList(t, n) => Type::FixedList(Box::new(sub(t)?), *n),
            TypeDefKind::Resource => return Err(unsupported(&name, "resource")),
            TypeDefKind::Handle(_) => return Err(unsupported(&name, "resource handle (own/borrow)")),
            TypeDefKind::Future(_) => return Err(unsupported(&name, "future")),
            TypeDefKind::Stream(_) => return Err(unsupported(&name, "stream")),
            TypeDefKind::Map(..) => return Err(unsupported(&name, "map")),
            TypeDefKind::Unknown => return Err(unsupported(&name, "unresolved")),
        });
    }
    Err(SchemaError::Unsupported("type alias chain too long".to_owned()))
}
