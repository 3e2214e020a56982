// The gateway's objects (gateway/HTTP_API.md). The wire carries int64 as
// JSON strings; the client hands out numbers (milliseconds and counts fit a
// double exactly) so components can compare and format them directly.

export interface FeedButton {
  name: string;
  label: string;
  action: string;
}

export interface FeedBlock {
  name: string;
  /** "markdown", "text" or "button_set". */
  type: string;
  content: string;
  /** HTML for markdown blocks (sanitise before inserting), the text for text blocks. */
  rendered: string;
  markdown: string;
  buttons: FeedButton[];
}

export interface FeedItem {
  id: string;
  workflow: string;
  tenant: string;
  blocks: FeedBlock[];
  actors: string[];
  total_activities: number;
  total_actors: number;
  data_json: string;
  /** 0 = not set. */
  inserted_at_ms: number;
  seen_at_ms: number;
  read_at_ms: number;
  interacted_at_ms: number;
  archived_at_ms: number;
}

export interface FeedCounts {
  unseen_count: number;
  unread_count: number;
  total_count: number;
}

export type FeedStatus = "all" | "unread" | "unseen" | "read" | "archived";

export type FeedAction =
  | "seen"
  | "unseen"
  | "read"
  | "unread"
  | "interacted"
  | "uninteracted"
  | "archived"
  | "unarchived";

export const FEED_ACTIONS: readonly FeedAction[] = [
  "seen",
  "unseen",
  "read",
  "unread",
  "interacted",
  "uninteracted",
  "archived",
  "unarchived",
];

/** A workflow's or category's entry: a bool, or channel types (and conditions, kept as written). */
export interface PreferenceEntry {
  channel_types?: Record<string, boolean>;
  conditions?: unknown[];
  [other: string]: unknown;
}

/** preferences/preferences.h: what the user set; unset means allowed. */
export interface PreferenceSet {
  channel_types?: Record<string, boolean>;
  workflows?: Record<string, boolean | PreferenceEntry>;
  categories?: Record<string, boolean | PreferenceEntry>;
}

export interface PreferenceWorkflowOption {
  key: string;
  name: string;
  categories: string[];
  channel_types: string[];
}

/** GET /v1/preference_options: what the loaded workflows offer. */
export interface PreferenceOptions {
  workflows: PreferenceWorkflowOption[];
  categories: string[];
  channel_types: string[];
}

// Wire shapes, before conversion.
export type WireFeedItem = Partial<Record<keyof FeedItem, unknown>>;
export type WireCounts = Partial<Record<keyof FeedCounts, unknown>>;

function num(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : 0;
  }
  return 0;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function block(value: unknown): FeedBlock {
  const b = (value ?? {}) as Record<string, unknown>;
  return {
    name: str(b.name),
    type: str(b.type),
    content: str(b.content),
    rendered: str(b.rendered),
    markdown: str(b.markdown),
    buttons: Array.isArray(b.buttons)
      ? b.buttons.map((x) => {
          const button = (x ?? {}) as Record<string, unknown>;
          return { name: str(button.name), label: str(button.label), action: str(button.action) };
        })
      : [],
  };
}

export function parseFeedItem(value: WireFeedItem): FeedItem {
  return {
    id: str(value.id),
    workflow: str(value.workflow),
    tenant: str(value.tenant),
    blocks: Array.isArray(value.blocks) ? value.blocks.map(block) : [],
    actors: Array.isArray(value.actors) ? value.actors.filter((a): a is string => typeof a === "string") : [],
    total_activities: num(value.total_activities),
    total_actors: num(value.total_actors),
    data_json: str(value.data_json),
    inserted_at_ms: num(value.inserted_at_ms),
    seen_at_ms: num(value.seen_at_ms),
    read_at_ms: num(value.read_at_ms),
    interacted_at_ms: num(value.interacted_at_ms),
    archived_at_ms: num(value.archived_at_ms),
  };
}

export function parseCounts(value: WireCounts | undefined | null): FeedCounts {
  const v = value ?? {};
  return { unseen_count: num(v.unseen_count), unread_count: num(v.unread_count), total_count: num(v.total_count) };
}
