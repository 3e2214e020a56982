import type { HeraldError, PreferenceEntry, PreferenceOptions, PreferenceSet } from "@herald/client";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useHeraldClient } from "./context.js";

export const CHANNEL_TYPE_LABELS: Record<string, string> = {
  in_app_feed: "In-app feed",
  email: "Email",
  sms: "SMS",
  push: "Push",
  chat: "Chat",
  webhook: "Webhook",
};

export interface PreferenceCenterProps {
  /** The user's preferences within this tenant (default: the user's own set). */
  tenant?: string;
  title?: string;
  /** Names shown for channel types (default: CHANNEL_TYPE_LABELS, else the type). */
  channelTypeLabels?: Record<string, string>;
  /** Called with the set as stored after a save. */
  onSaved?: (preferences: PreferenceSet) => void;
  className?: string;
}

type Loaded = { options: PreferenceOptions; preferences: PreferenceSet };

function clone(set: PreferenceSet): PreferenceSet {
  return JSON.parse(JSON.stringify(set ?? {})) as PreferenceSet;
}

// What the user set, read the way preferences/preferences.h evaluates it:
// unset means allowed, a bool speaks for the whole entry.
function entryOn(entry: boolean | PreferenceEntry | undefined): boolean {
  return entry !== false;
}

function entryChannelOn(entry: boolean | PreferenceEntry | undefined, type: string): boolean {
  if (entry === false) return false;
  if (entry === undefined || entry === true) return true;
  return entry.channel_types?.[type] !== false;
}

function withEntryChannel(entry: boolean | PreferenceEntry | undefined, type: string, on: boolean): PreferenceEntry {
  // Keeps the entry's other settings (conditions, other channel types).
  const base: PreferenceEntry = typeof entry === "object" && entry !== null ? { ...entry } : {};
  base.channel_types = { ...(base.channel_types ?? {}), [type]: on };
  return base;
}

/**
 * The user's notification preferences: channel types, categories and each
 * workflow (on/off and per channel type), as offered by the gateway's
 * /v1/preference_options (so it follows the loaded workflows), saved with
 * PUT /v1/preferences.
 */
export function PreferenceCenter({ tenant, title = "Notification preferences", channelTypeLabels, onSaved, className }: PreferenceCenterProps) {
  const client = useHeraldClient();
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadError, setLoadError] = useState<HeraldError | null>(null);
  const [draft, setDraft] = useState<PreferenceSet>({});
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<HeraldError | null>(null);
  const [saved, setSaved] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const labels = { ...CHANNEL_TYPE_LABELS, ...channelTypeLabels };
  const label = (type: string) => labels[type] ?? type;

  useEffect(() => {
    const controller = new AbortController();
    setLoaded(null);
    setLoadError(null);
    const scope = { signal: controller.signal, ...(tenant ? { tenant } : {}) };
    Promise.all([client.getPreferenceOptions({ signal: controller.signal }), client.getPreferences(scope)]).then(
      ([options, preferences]) => {
        setLoaded({ options, preferences });
        setDraft(clone(preferences));
      },
      (error: HeraldError) => {
        if (!controller.signal.aborted) setLoadError(error);
      },
    );
    return () => controller.abort();
  }, [client, tenant, attempt]);

  const change = useCallback((update: (set: PreferenceSet) => void) => {
    setDraft((current) => {
      const next = clone(current);
      update(next);
      return next;
    });
    setSaved(false);
  }, []);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSaving(true);
    setSaveError(null);
    setSaved(false);
    try {
      const stored = await client.setPreferences(draft, tenant ? { tenant } : {});
      setDraft(clone(stored));
      setSaved(true);
      onSaved?.(stored);
    } catch (error) {
      setSaveError(error as HeraldError);
    } finally {
      setSaving(false);
    }
  };

  const classes = ["herald-prefs", className].filter(Boolean).join(" ");
  if (loadError) {
    return (
      <section className={classes} aria-label={title}>
        <h2 className="herald-prefs__title">{title}</h2>
        <div role="alert" className="herald-prefs__error">
          <p>Couldn’t load preferences: {loadError.message}</p>
          <button type="button" onClick={() => setAttempt((n) => n + 1)}>
            Retry
          </button>
        </div>
      </section>
    );
  }
  if (!loaded) {
    return (
      <section className={classes} aria-label={title}>
        <h2 className="herald-prefs__title">{title}</h2>
        <div role="status" className="herald-prefs__loading">
          Loading preferences…
        </div>
      </section>
    );
  }

  const { options } = loaded;
  return (
    <form className={classes} aria-label={title} onSubmit={save}>
      <h2 className="herald-prefs__title">{title}</h2>
      {options.channel_types.length > 0 && (
        <fieldset className="herald-prefs__group">
          <legend>Channels</legend>
          {options.channel_types.map((type) => (
            <label key={type} className="herald-prefs__toggle">
              <input
                type="checkbox"
                data-herald-pref={`channel_types.${type}`}
                checked={draft.channel_types?.[type] !== false}
                onChange={(e) => change((set) => void (set.channel_types = { ...set.channel_types, [type]: e.target.checked }))}
              />
              {label(type)}
            </label>
          ))}
        </fieldset>
      )}
      {options.categories.length > 0 && (
        <fieldset className="herald-prefs__group">
          <legend>Categories</legend>
          {options.categories.map((category) => (
            <label key={category} className="herald-prefs__toggle">
              <input
                type="checkbox"
                data-herald-pref={`categories.${category}`}
                checked={entryOn(draft.categories?.[category])}
                onChange={(e) => change((set) => void (set.categories = { ...set.categories, [category]: e.target.checked }))}
              />
              {category}
            </label>
          ))}
        </fieldset>
      )}
      <fieldset className="herald-prefs__group">
        <legend>Workflows</legend>
        {options.workflows.length === 0 && <p className="herald-prefs__empty">No notifications to configure.</p>}
        {options.workflows.map((workflow) => {
          const entry = draft.workflows?.[workflow.key];
          const on = entryOn(entry);
          return (
            <div key={workflow.key} role="group" aria-label={workflow.name} className="herald-prefs__workflow" data-workflow={workflow.key}>
              <label className="herald-prefs__toggle herald-prefs__toggle--main">
                <input
                  type="checkbox"
                  data-herald-pref={`workflows.${workflow.key}`}
                  checked={on}
                  onChange={(e) => change((set) => void (set.workflows = { ...set.workflows, [workflow.key]: e.target.checked }))}
                />
                {workflow.name}
              </label>
              {workflow.categories.length > 0 && <span className="herald-prefs__categories">{workflow.categories.join(", ")}</span>}
              <div className="herald-prefs__channels">
                {workflow.channel_types.map((type) => (
                  <label key={type} className="herald-prefs__toggle">
                    <input
                      type="checkbox"
                      aria-label={`${workflow.name}: ${label(type)}`}
                      data-herald-pref={`workflows.${workflow.key}.channel_types.${type}`}
                      disabled={!on}
                      checked={entryChannelOn(entry, type)}
                      onChange={(e) =>
                        change(
                          (set) =>
                            void (set.workflows = {
                              ...set.workflows,
                              [workflow.key]: withEntryChannel(set.workflows?.[workflow.key], type, e.target.checked),
                            }),
                        )
                      }
                    />
                    {label(type)}
                  </label>
                ))}
              </div>
            </div>
          );
        })}
      </fieldset>
      <div className="herald-prefs__footer">
        <button type="submit" className="herald-prefs__save" disabled={saving}>
          {saving ? "Saving…" : "Save preferences"}
        </button>
        {saved && (
          <span role="status" className="herald-prefs__saved">
            Preferences saved
          </span>
        )}
        {saveError && (
          <div role="alert" className="herald-prefs__error">
            Couldn’t save preferences: {saveError.message}
            {saveError.field ? ` (${saveError.field})` : ""}
          </div>
        )}
      </div>
    </form>
  );
}
