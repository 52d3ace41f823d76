//! Shadow mode: a candidate atlas loaded beside the live atlas of the same `atlas_id` judges
//! every resolve and execute too; the live decision is enforced, and each difference is recorded
//! in TRACE (`policy.shadow_diff`) and counted (`stats().shadow_diffs`), so a policy change can
//! be tried on real traffic before it enforces. With no shadow loaded the hot path pays one
//! emptiness check.
//!
//! Shadow verdicts are the policy ladder's (deny, approval under an allow, allow, default
//! deny); rate limits are not simulated (their windows belong to the live atlas), so a live
//! `rate_limit_exceeded` is compared as the allow underneath it.

use super::resolution::{Resolution, Verdict, VerdictKind};
use super::Resolver;
use crate::atlas::compile::{CompiledAtlas, NO_POLICY};
use crate::atlas::conditions::EvalCtx;
use crate::atlas::{manifest_from_dir, manifest_from_json, AtlasManifest};
use crate::error::{CraError, ErrorCode, Result};
use crate::trace::{EventPayload, EventType, PayloadSource, SessionTrace};
use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Shadow atlases by the atlas id they shadow.
pub(crate) type Shadows = FxHashMap<Arc<str>, Arc<CompiledAtlas>>;

/// A verdict's name for comparisons (`allowed`, `denied`, `pending_approval`).
fn name(v: &Verdict) -> &'static str {
    match v.kind {
        VerdictKind::Allowed => "allowed",
        VerdictKind::Pending => "pending_approval",
        VerdictKind::Denied(_) if v.allowed_under_limit() => "allowed",
        VerdictKind::Denied(_) => "denied",
    }
}

fn policy_id(atlas: &CompiledAtlas, v: &Verdict) -> Option<String> {
    let p = if v.allowed_under_limit() {
        v.allow_policy
    } else {
        v.policy
    };
    (p != NO_POLICY).then(|| atlas.policies[p as usize].id.to_string())
}

impl Resolver {
    /// Loads `manifest` as the shadow of the live atlas with the same `atlas_id` (replacing an
    /// earlier shadow). Errors: `INVALID_ATLAS`, `ATLAS_NOT_FOUND` (no live atlas has that id).
    pub fn load_shadow(&self, manifest: AtlasManifest) -> Result<super::AtlasInfo> {
        let compiled = Arc::new(CompiledAtlas::compile(manifest)?);
        let _guard = self.load_lock.lock();
        if !self.atlases.load().by_id.contains_key(&compiled.id) {
            return Err(CraError::at(
                ErrorCode::AtlasNotFound,
                "/atlas_id",
                format!("no live atlas {:?} to shadow; load it first", &*compiled.id),
            ));
        }
        let m = &compiled.manifest;
        let info = super::AtlasInfo {
            atlas_id: m.atlas_id.clone(),
            version: m.version.clone(),
            actions: m.actions.len(),
            policies: m.policies.len(),
            context_packs: m.context_packs.len(),
            capabilities: m.capabilities.len(),
            replaced: self.shadows.load().contains_key(&compiled.id),
            warnings: compiled.warnings.clone(),
        };
        let mut next: Shadows = (**self.shadows.load()).clone();
        let previous = next.insert(compiled.id.clone(), compiled.clone());
        self.shadows.store(Arc::new(next));
        self.record_atlas_change(super::changes::AtlasChange::Loaded {
            new: &compiled,
            previous: previous.as_deref(),
            shadow: true,
        });
        Ok(info)
    }

    /// [`Resolver::load_shadow`] from JSON text.
    pub fn load_shadow_json(&self, bytes: &[u8]) -> Result<super::AtlasInfo> {
        self.load_shadow(manifest_from_json(bytes)?)
    }

    /// [`Resolver::load_shadow`] from an atlas directory (the safe loader).
    pub fn load_shadow_dir(&self, path: impl AsRef<Path>) -> Result<super::AtlasInfo> {
        self.load_shadow(manifest_from_dir(path.as_ref())?)
    }

    /// Unloads the shadow of `atlas_id`. Errors: `ATLAS_NOT_FOUND`.
    pub fn unload_shadow(&self, atlas_id: &str) -> Result<()> {
        let _guard = self.load_lock.lock();
        let mut next: Shadows = (**self.shadows.load()).clone();
        let Some(old) = next.remove(atlas_id) else {
            return Err(CraError::at(
                ErrorCode::AtlasNotFound,
                "/atlas_id",
                format!("no shadow of atlas {atlas_id:?} is loaded"),
            ));
        };
        self.shadows.store(Arc::new(next));
        self.record_atlas_change(super::changes::AtlasChange::Unloaded {
            old: &old,
            shadow: true,
        });
        Ok(())
    }

    /// After a resolve: compares every in-scope action with the shadows; records the diffs.
    pub(crate) fn shadow_resolve(
        &self,
        res: &Resolution,
        trace: &Arc<SessionTrace>,
        span: &Arc<str>,
    ) {
        let shadows = self.shadows.load();
        if shadows.is_empty() {
            return;
        }
        let ctx = res.eval_ctx();
        let mut diffs = Vec::new();
        for sel in &res.selected {
            let atlas = &res.snapshot.atlases[sel.atlas as usize];
            let Some(shadow) = shadows.get(&atlas.id) else {
                continue;
            };
            for v in &res.verdicts[sel.start as usize..(sel.start + sel.len) as usize] {
                let action = &atlas.actions[v.action as usize];
                let sv = shadow.action_index.get(&action.id).map(|&idx| {
                    super::resolve::ladder(shadow, idx, &shadow.actions[idx as usize], &ctx)
                });
                if differs(v, sv.as_ref()) {
                    diffs.push(ShadowDiff {
                        live_atlas: atlas.clone(),
                        shadow: shadow.clone(),
                        live: *v,
                        shadow_verdict: sv,
                    });
                }
            }
        }
        self.record_shadow_diffs(
            diffs,
            &res.resolution_id,
            "resolve",
            trace,
            span,
            res.timestamp_us,
        );
    }

    /// During an execute: compares the live verdict on one call with the shadow's.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn shadow_execute(
        &self,
        res: &Resolution,
        atlas: &Arc<CompiledAtlas>,
        action_id: &str,
        live: &Verdict,
        trace: &Arc<SessionTrace>,
        span: &Arc<str>,
        now: i64,
    ) {
        let shadows = self.shadows.load();
        if shadows.is_empty() {
            return;
        }
        let Some(shadow) = shadows.get(&atlas.id) else {
            return;
        };
        let ctx = EvalCtx {
            now_us: now,
            ..res.eval_ctx()
        };
        let sv = shadow
            .action_index
            .get(action_id)
            .map(|&idx| super::resolve::ladder(shadow, idx, &shadow.actions[idx as usize], &ctx));
        if differs(live, sv.as_ref()) {
            let d = ShadowDiff {
                live_atlas: atlas.clone(),
                shadow: shadow.clone(),
                live: *live,
                shadow_verdict: sv,
            };
            self.record_shadow_diffs(vec![d], &res.resolution_id, "execute", trace, span, now);
        }
    }

    fn record_shadow_diffs(
        &self,
        diffs: Vec<ShadowDiff>,
        resolution_id: &str,
        operation: &'static str,
        trace: &Arc<SessionTrace>,
        span: &Arc<str>,
        ts: i64,
    ) {
        if diffs.is_empty() {
            return;
        }
        self.counters
            .shadow_diffs
            .fetch_add(diffs.len() as u64, Ordering::Relaxed);
        let payload = ShadowPayload {
            operation,
            resolution_id: resolution_id.into(),
            diffs,
        };
        self.emit(
            trace,
            span,
            false,
            ts,
            EventType::PolicyShadowDiff,
            EventPayload::Lazy(Arc::new(payload)),
        );
    }
}

/// Whether the shadow judges differently (an action the shadow lacks differs too).
fn differs(live: &Verdict, shadow: Option<&Verdict>) -> bool {
    shadow.is_none_or(|s| name(s) != name(live))
}

/// One difference, kept compact on the hot path and rendered by the trace thread.
#[derive(Debug)]
struct ShadowDiff {
    live_atlas: Arc<CompiledAtlas>,
    shadow: Arc<CompiledAtlas>,
    live: Verdict,
    shadow_verdict: Option<Verdict>,
}

/// The `policy.shadow_diff` payload, rendered off the caller's thread.
#[derive(Debug)]
struct ShadowPayload {
    operation: &'static str,
    resolution_id: Box<str>,
    diffs: Vec<ShadowDiff>,
}

impl PayloadSource for ShadowPayload {
    fn render(&self, _view: EventType) -> Value {
        let diffs: Vec<Value> = self
            .diffs
            .iter()
            .map(|d| {
                let action_id = &d.live_atlas.actions[d.live.action as usize].id;
                diff(
                    &d.live_atlas,
                    action_id,
                    &d.live,
                    &d.shadow,
                    d.shadow_verdict.as_ref(),
                )
                .unwrap_or(Value::Null)
            })
            .collect();
        json!({"operation": self.operation, "resolution_id": &*self.resolution_id, "diffs": diffs})
    }
}

/// One action's difference, or `None` when live and shadow agree.
fn diff(
    live_atlas: &CompiledAtlas,
    action_id: &str,
    live: &Verdict,
    shadow: &CompiledAtlas,
    sv: Option<&Verdict>,
) -> Option<Value> {
    let (shadow_name, shadow_policy) = match sv {
        Some(v) => (name(v), policy_id(shadow, v)),
        None => ("absent", None),
    };
    let live_name = name(live);
    if live_name == shadow_name {
        return None;
    }
    Some(json!({
        "action_id": action_id,
        "atlas_id": &*live_atlas.id,
        "live": live_name,
        "live_policy_id": policy_id(live_atlas, live),
        "shadow": shadow_name,
        "shadow_policy_id": shadow_policy,
        "shadow_version": &*shadow.version,
    }))
}
