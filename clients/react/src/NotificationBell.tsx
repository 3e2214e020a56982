import { forwardRef, type ButtonHTMLAttributes } from "react";
import { useOptionalFeed } from "./context.js";

export interface NotificationBellProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, "children"> {
  /** The number on the badge; default: the FeedProvider's unread count. */
  count?: number;
  /** Badge shows `${max}+` above this (default 99). */
  max?: number;
  /** Whether the popover it controls is open (aria-expanded). */
  open?: boolean;
  /** The accessible name; default "Notifications (N unread)". */
  label?: (count: number) => string;
}

const defaultLabel = (count: number) => `Notifications (${count} unread)`;

/** A button with a bell and the unread badge; it updates live with the feed. */
export const NotificationBell = forwardRef<HTMLButtonElement, NotificationBellProps>(function NotificationBell(
  { count, max = 99, open, label = defaultLabel, className, ...rest },
  ref,
) {
  const feed = useOptionalFeed();
  const unread = count ?? feed?.counts.unread_count ?? 0;
  return (
    <button
      ref={ref}
      type="button"
      className={["herald-bell", className].filter(Boolean).join(" ")}
      aria-label={label(unread)}
      aria-haspopup="dialog"
      {...(open !== undefined ? { "aria-expanded": open } : {})}
      data-unread-count={unread}
      {...rest}
    >
      <svg className="herald-bell__icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
        <path
          fill="currentColor"
          d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
        />
      </svg>
      {unread > 0 && (
        <span className="herald-bell__badge" aria-hidden="true">
          {unread > max ? `${max}+` : unread}
        </span>
      )}
    </button>
  );
});
