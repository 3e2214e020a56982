import DOMPurify from "dompurify";

/**
 * The gateway's `rendered` HTML is CommonMark in safe mode already; it is
 * sanitised again here because it ends up in the customer's page, where a
 * script would run with the customer's origin (defence in depth against a
 * template or renderer bug). Links open in a new tab without an opener.
 */
let hooked = false;

export function sanitizeHtml(html: string): string {
  if (!hooked) {
    hooked = true;
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.getAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
  }
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input", "button"] });
}
