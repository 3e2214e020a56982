import { useEffect, useLayoutEffect, useRef, useState, type CSSProperties, type ReactNode, type RefObject } from "react";
import { createPortal } from "react-dom";
import { NotificationFeed, type NotificationFeedProps } from "./NotificationFeed.js";

export interface NotificationFeedPopoverProps {
  open: boolean;
  /** Called on Escape and on a click outside; the parent sets open=false. */
  onClose: () => void;
  /** The bell: the popover sits under it, and Escape gives it the focus back. */
  anchorRef: RefObject<HTMLElement>;
  /** Default "Notifications". */
  label?: string;
  /** Props of the default content (a NotificationFeed). */
  feedProps?: NotificationFeedProps;
  /** Other content instead of the NotificationFeed. */
  children?: ReactNode;
  className?: string;
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function focusables(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => !el.hasAttribute("inert"));
}

/**
 * The feed in a dialog anchored to the bell. While open, Tab and Shift+Tab
 * stay inside it, Escape closes it and returns the focus to the bell, and a
 * click outside closes it.
 */
export function NotificationFeedPopover({ open, onClose, anchorRef, label = "Notifications", feedProps, children, className }: NotificationFeedPopoverProps) {
  const dialogRef = useRef<HTMLDivElement>(null);
  const [position, setPosition] = useState<CSSProperties>({});
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useLayoutEffect(() => {
    if (!open) return;
    const place = () => {
      const anchor = anchorRef.current;
      if (!anchor) return;
      const rect = anchor.getBoundingClientRect();
      const viewport = document.documentElement.clientWidth || window.innerWidth;
      setPosition({ position: "fixed", top: rect.bottom + 8, right: Math.max(8, viewport - rect.right) });
    };
    place();
    window.addEventListener("resize", place);
    window.addEventListener("scroll", place, true);
    return () => {
      window.removeEventListener("resize", place);
      window.removeEventListener("scroll", place, true);
    };
  }, [open, anchorRef]);

  useEffect(() => {
    if (!open) return;
    const dialog = dialogRef.current;
    if (!dialog) return;
    // Focus moves into the dialog when it opens (first control, else the dialog).
    const first = focusables(dialog)[0];
    (first ?? dialog).focus();

    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        event.preventDefault();
        onCloseRef.current();
        anchorRef.current?.focus();
        return;
      }
      if (event.key !== "Tab") return;
      const items = focusables(dialog);
      if (items.length === 0) {
        event.preventDefault();
        dialog.focus();
        return;
      }
      const firstItem = items[0]!;
      const lastItem = items[items.length - 1]!;
      const active = document.activeElement;
      if (event.shiftKey && (active === firstItem || active === dialog || !dialog.contains(active))) {
        event.preventDefault();
        lastItem.focus();
      } else if (!event.shiftKey && (active === lastItem || !dialog.contains(active))) {
        event.preventDefault();
        firstItem.focus();
      }
    };
    const onPointerDown = (event: Event) => {
      const target = event.target as Node | null;
      if (!target || dialog.contains(target) || anchorRef.current?.contains(target)) return;
      onCloseRef.current();
    };
    document.addEventListener("keydown", onKeyDown);
    document.addEventListener("mousedown", onPointerDown);
    document.addEventListener("touchstart", onPointerDown);
    return () => {
      document.removeEventListener("keydown", onKeyDown);
      document.removeEventListener("mousedown", onPointerDown);
      document.removeEventListener("touchstart", onPointerDown);
    };
  }, [open, anchorRef]);

  if (!open) return null;
  return createPortal(
    <div
      ref={dialogRef}
      role="dialog"
      aria-modal="true"
      aria-label={label}
      tabIndex={-1}
      className={["herald-popover", className].filter(Boolean).join(" ")}
      style={position}
    >
      {children ?? <NotificationFeed {...feedProps} />}
    </div>,
    document.body,
  );
}
