import { render, screen, waitFor, within } from "@testing-library/react";
import { userEvent } from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { HeraldProvider, PreferenceCenter } from "../src/index.js";
import { errorBody, FakeGateway, json } from "./helpers.js";

const OPTIONS = {
  workflows: [
    { key: "new-comment", name: "New comment", categories: ["collaboration"], channel_types: ["in_app_feed", "email"] },
    { key: "digest", name: "Weekly digest", categories: ["marketing"], channel_types: ["email"] },
  ],
  categories: ["collaboration", "marketing"],
  channel_types: ["in_app_feed", "email"],
};

const CONDITIONS = [{ variable: "recipient.plan", operator: "equal_to", argument: "pro" }];

function setup(stored: Record<string, unknown>) {
  const gateway = new FakeGateway();
  gateway.on("GET", /\/v1\/preference_options$/, () => json(200, OPTIONS));
  gateway.on("GET", /\/v1\/preferences$/, () => json(200, { preferences: stored }));
  gateway.on("PUT", /\/v1\/preferences$/, (r) => json(200, r.body));
  render(
    <HeraldProvider baseUrl="http://gateway.test" publishableKey="pk" userToken="t" fetch={gateway.fetch}>
      <PreferenceCenter tenant="acme" />
    </HeraldProvider>,
  );
  return gateway;
}

describe("PreferenceCenter", () => {
  it("shows the options' toggles, and saves the opt-out keeping the rest of the set", async () => {
    const user = userEvent.setup();
    const gateway = setup({ workflows: { digest: { conditions: CONDITIONS } }, categories: { marketing: false } });
    const inApp = await screen.findByRole("checkbox", { name: "New comment: In-app feed" });
    expect(inApp).toBeChecked();
    expect(screen.getByRole("checkbox", { name: "marketing" })).not.toBeChecked();
    expect(screen.getByRole("checkbox", { name: "Weekly digest: Email" })).toBeChecked();
    expect(gateway.requestsTo(/\/v1\/preferences$/)[0]!.url.searchParams.get("tenant")).toBe("acme");

    await user.click(inApp);
    await user.click(screen.getByRole("checkbox", { name: "Weekly digest: Email" }));
    await user.click(screen.getByRole("button", { name: "Save preferences" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Preferences saved");
    const put = gateway.requestsTo(/\/v1\/preferences$/, "PUT")[0]!;
    expect(put.url.searchParams.get("tenant")).toBe("acme");
    expect(put.body).toEqual({
      preferences: {
        workflows: {
          "new-comment": { channel_types: { in_app_feed: false } },
          digest: { conditions: CONDITIONS, channel_types: { email: false } },
        },
        categories: { marketing: false },
      },
    });
  });

  it("turning a workflow off disables its channel toggles and saves false", async () => {
    const user = userEvent.setup();
    const gateway = setup({});
    const group = await screen.findByRole("group", { name: "New comment" });
    await user.click(within(group).getByRole("checkbox", { name: "New comment" }));
    expect(within(group).getByRole("checkbox", { name: "New comment: Email" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Save preferences" }));
    await waitFor(() => expect(gateway.requestsTo(/\/v1\/preferences$/, "PUT")).toHaveLength(1));
    expect(gateway.requestsTo(/\/v1\/preferences$/, "PUT")[0]!.body).toEqual({ preferences: { workflows: { "new-comment": false } } });
  });

  it("shows a save error with its field", async () => {
    const user = userEvent.setup();
    const gateway = setup({});
    await screen.findByRole("checkbox", { name: "New comment: Email" });
    gateway.on("PUT", /\/v1\/preferences$/, () =>
      errorBody(400, "invalid_argument", "preferences.channel_types.fax: not a channel type", "preferences.channel_types.fax"),
    );
    await user.click(screen.getByRole("button", { name: "Save preferences" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Couldn’t save preferences: preferences.channel_types.fax: not a channel type");
    expect(alert).toHaveTextContent("(preferences.channel_types.fax)");
    expect(screen.queryByText("Preferences saved")).not.toBeInTheDocument();
  });

  it("shows a load error", async () => {
    const gateway = new FakeGateway();
    gateway.on("GET", /preference_options$/, () => errorBody(401, "unauthenticated", "token expired"));
    gateway.on("GET", /\/v1\/preferences$/, () => json(200, { preferences: {} }));
    render(
      <HeraldProvider baseUrl="http://gateway.test" publishableKey="pk" userToken="t" fetch={gateway.fetch}>
        <PreferenceCenter />
      </HeraldProvider>,
    );
    expect(await screen.findByRole("alert")).toHaveTextContent("token expired");
  });
});
