import { act, render, screen, waitFor, within } from "@testing-library/react";
import { userEvent } from "@testing-library/user-event";
import { useRef, useState } from "react";
import { describe, expect, it } from "vitest";
import { formatRelativeTime, NotificationBell, NotificationFeed, NotificationFeedPopover, useUnreadCount } from "../src/index.js";
import { errorBody, FakeGateway, json, listResponse, Providers, wireCounts, wireItem } from "./helpers.js";

function Inbox() {
  const [open, setOpen] = useState(false);
  const bell = useRef<HTMLButtonElement>(null);
  return (
    <>
      <NotificationBell ref={bell} open={open} onClick={() => setOpen((o) => !o)} />
      <NotificationFeedPopover open={open} onClose={() => setOpen(false)} anchorRef={bell} />
      <button type="button">Outside</button>
    </>
  );
}

describe("NotificationBell", () => {
  it("updates the badge on a realtime event without a reload", async () => {
    const gateway = new FakeGateway();
    gateway.on("GET", /items$/, () => listResponse([], wireCounts(0, 0, 0)));
    render(
      <Providers gateway={gateway}>
        <Inbox />
      </Providers>,
    );
    const bell = await screen.findByRole("button", { name: "Notifications (0 unread)" });
    expect(bell).toHaveAttribute("data-unread-count", "0");
    await waitFor(() => expect(gateway.streams).toHaveLength(1));
    const lists = gateway.requestsTo(/items$/).length;
    act(() => gateway.lastStream.event("item", { item: wireItem(), metadata: wireCounts(1, 1, 1) }, "c1"));
    await waitFor(() => expect(bell).toHaveAccessibleName("Notifications (1 unread)"));
    expect(bell).toHaveAttribute("data-unread-count", "1");
    expect(bell.querySelector(".herald-bell__badge")).toHaveTextContent("1");
    expect(gateway.requestsTo(/items$/).length).toBe(lists); // no refetch: the event did it
  });

  it("caps the badge and useUnreadCount follows the counts", async () => {
    const gateway = new FakeGateway();
    gateway.on("GET", /items$/, () => listResponse([], wireCounts(150, 150, 150)));
    function Count() {
      return <output aria-label="count">{useUnreadCount()}</output>;
    }
    render(
      <Providers gateway={gateway}>
        <NotificationBell />
        <Count />
      </Providers>,
    );
    const bell = await screen.findByRole("button", { name: "Notifications (150 unread)" });
    expect(bell.querySelector(".herald-bell__badge")).toHaveTextContent("99+");
    expect(screen.getByLabelText("count")).toHaveTextContent("150");
  });
});

describe("NotificationFeedPopover", () => {
  it("traps the focus, closes on Escape returning the focus to the bell, and on a click outside", async () => {
    const user = userEvent.setup();
    const gateway = new FakeGateway();
    gateway.on("GET", /items$/, () => listResponse([wireItem()], wireCounts(1, 1, 1)));
    render(
      <Providers gateway={gateway}>
        <Inbox />
      </Providers>,
    );
    const bell = await screen.findByRole("button", { name: "Notifications (1 unread)" });
    await user.click(bell);
    const dialog = await screen.findByRole("dialog", { name: "Notifications" });
    expect(bell).toHaveAttribute("aria-expanded", "true");
    await within(dialog).findByRole("article");
    const markAll = within(dialog).getByRole("button", { name: "Mark all as read" });
    expect(markAll).toHaveFocus();
    const archive = within(dialog).getByRole("button", { name: "Archive notification" });
    // Shift+Tab from the first control wraps to the last; Tab from the last wraps to the first.
    await user.tab({ shift: true });
    expect(archive).toHaveFocus();
    await user.tab();
    expect(markAll).toHaveFocus();
    for (let i = 0; i < 6; i++) {
      await user.tab();
      expect(dialog).toContainElement(document.activeElement as HTMLElement);
    }
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(bell).toHaveFocus();
    expect(bell).toHaveAttribute("aria-expanded", "false");

    await user.click(bell);
    expect(await screen.findByRole("dialog")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Outside" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
  });
});

describe("NotificationFeed", () => {
  it("sanitises the rendered HTML: no script, no event handler attributes", async () => {
    const gateway = new FakeGateway();
    const hostile = wireItem({
      blocks: [
        {
          name: "body",
          type: "markdown",
          content: "",
          rendered: '<p>Hello <b>there</b></p><img src="x" onerror="window.__pwned = 1"><script>window.__pwned = 2</script><a href="javascript:alert(1)">link</a>',
          markdown: "",
          buttons: [],
        },
      ],
    });
    gateway.on("GET", /items$/, () => listResponse([hostile]));
    const { container } = render(
      <Providers gateway={gateway}>
        <NotificationFeed />
      </Providers>,
    );
    const article = await screen.findByRole("article");
    expect(article).toHaveTextContent("Hello there");
    expect(container.querySelector("script")).toBeNull();
    const img = article.querySelector("img");
    expect(img).not.toBeNull();
    expect(img!.hasAttribute("onerror")).toBe(false);
    expect(article.querySelector("a")!.getAttribute("href")).toBeNull();
    expect((window as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("shows the empty state", async () => {
    const gateway = new FakeGateway();
    gateway.on("GET", /items$/, () => listResponse([], wireCounts(0, 0, 0)));
    render(
      <Providers gateway={gateway}>
        <NotificationFeed />
      </Providers>,
    );
    expect(screen.getByRole("status")).toHaveTextContent("Loading notifications");
    expect(await screen.findByText("No notifications yet")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Mark all as read" })).toBeDisabled();
  });

  it("shows the error state and recovers on Retry", async () => {
    const user = userEvent.setup();
    const gateway = new FakeGateway();
    gateway.on("GET", /items$/, () => errorBody(503, "unavailable", "the feed store is unavailable"));
    render(
      <Providers gateway={gateway}>
        <NotificationFeed />
      </Providers>,
    );
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("the feed store is unavailable");
    gateway.on("GET", /items$/, () => listResponse([wireItem()]));
    await user.click(within(alert).getByRole("button", { name: "Retry" }));
    expect(await screen.findByRole("article")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("marks an item read on click, archives it, marks all read, and shows relative times", async () => {
    const user = userEvent.setup();
    const gateway = new FakeGateway();
    const a = wireItem({ inserted_at_ms: String(Date.now() - 5 * 60 * 1000) });
    const b = wireItem();
    gateway.on("GET", /items$/, () => listResponse([a, b], wireCounts(2, 2, 2)));
    gateway.on("POST", /items\/mark$/, () => json(200, { changed: "1", metadata: wireCounts(1, 1, 2) }));
    gateway.on("POST", /mark_all$/, () => json(200, { changed: "1", metadata: wireCounts(0, 0, 1) }));
    render(
      <Providers gateway={gateway}>
        <NotificationBell />
        <NotificationFeed />
      </Providers>,
    );
    const articles = await screen.findAllByRole("article");
    expect(within(articles[0]!).getByText("5 minutes ago")).toBeInTheDocument();
    expect(articles[0]).toHaveAttribute("data-read", "false");
    await user.click(articles[0]!);
    await waitFor(() => expect(articles[0]).toHaveAttribute("data-read", "true"));
    expect(gateway.requestsTo(/items\/mark$/, "POST")[0]!.body).toEqual({ action: "read", ids: [a.id], tenant: "" });
    expect(screen.getByRole("button", { name: "Notifications (1 unread)" })).toBeInTheDocument();

    await user.click(within(articles[0]!).getByRole("button", { name: "Archive notification" }));
    await waitFor(() => expect(screen.getAllByRole("article")).toHaveLength(1));
    expect(gateway.requestsTo(/items\/mark$/, "POST")[1]!.body).toEqual({ action: "archived", ids: [a.id], tenant: "" });

    await user.click(screen.getByRole("button", { name: "Mark all as read" }));
    await waitFor(() => expect(screen.getByRole("button", { name: "Notifications (0 unread)" })).toBeInTheDocument());
    expect(gateway.requestsTo(/mark_all$/, "POST")[0]!.body).toEqual({ action: "read", tenant: "" });
  });

  it("markReadOn=open marks the loaded unread items read, and Load more appends the next page", async () => {
    const user = userEvent.setup();
    const gateway = new FakeGateway();
    const a = wireItem();
    const b = wireItem({ read_at_ms: "5", seen_at_ms: "5" });
    const c = wireItem();
    gateway.on("GET", /items$/, (r) =>
      r.url.searchParams.get("after") === "page-2"
        ? json(200, { items: [c], next_cursor: "", metadata: wireCounts(0, 0, 3) })
        : json(200, { items: [a, b], next_cursor: "page-2", metadata: wireCounts(1, 1, 3) }),
    );
    gateway.on("POST", /items\/mark$/, () => json(200, { changed: "1", metadata: wireCounts(0, 0, 3) }));
    render(
      <Providers gateway={gateway}>
        <NotificationFeed markReadOn="open" />
      </Providers>,
    );
    await waitFor(() => expect(gateway.requestsTo(/items\/mark$/, "POST")).toHaveLength(1));
    expect(gateway.requestsTo(/items\/mark$/, "POST")[0]!.body).toEqual({ action: "read", ids: [a.id], tenant: "" });
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(screen.getAllByRole("article")).toHaveLength(3));
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
    // The new page's unread item is marked too; a refused mark is not retried in a loop.
    await waitFor(() => expect(gateway.requestsTo(/items\/mark$/, "POST")).toHaveLength(2));
    expect(gateway.requestsTo(/items\/mark$/, "POST")[1]!.body).toEqual({ action: "read", ids: [c.id], tenant: "" });
    // Answered on a later task (as a network would), so a retry loop cannot starve the timers.
    gateway.on("POST", /items\/mark$/, () => new Promise((r) => setTimeout(() => r(errorBody(503, "unavailable", "down")), 0)));
    act(() => gateway.lastStream.event("item", { item: wireItem(), metadata: wireCounts(1, 1, 4) }, "c1"));
    expect(await screen.findByRole("alert")).toHaveTextContent("down");
    await act(() => new Promise((r) => setTimeout(r, 0)));
    expect(gateway.requestsTo(/items\/mark$/, "POST")).toHaveLength(3);
  });

  it("closes the realtime connection on unmount", async () => {
    const gateway = new FakeGateway();
    gateway.on("GET", /items$/, () => listResponse([]));
    const { unmount } = render(
      <Providers gateway={gateway}>
        <NotificationBell />
      </Providers>,
    );
    await waitFor(() => expect(gateway.streams).toHaveLength(1));
    expect(gateway.lastStream.aborted).toBe(false);
    unmount();
    expect(gateway.lastStream.aborted).toBe(true);
  });
});

describe("formatRelativeTime", () => {
  it("picks the largest fitting unit", () => {
    const now = 1_700_000_000_000;
    expect(formatRelativeTime(now, now, "en")).toBe("now");
    expect(formatRelativeTime(now - 90 * 1000, now, "en")).toBe("2 minutes ago");
    expect(formatRelativeTime(now - 26 * 3600 * 1000, now, "en")).toBe("yesterday");
    expect(formatRelativeTime(now - 3 * 7 * 24 * 3600 * 1000, now, "en")).toBe("3 weeks ago");
  });
});
