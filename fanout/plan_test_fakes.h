// Map-backed directories for fan-out planning tests (batch_plan_test.cc,
// run_refs_test.cc): users, preferences, tenants and message states.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "fanout/batch_plan.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald::fanout {

using nlohmann::json;

class FakeUsers final : public UserDirectory {
 public:
  void Add(const std::string& id, json profile) { profiles_[id] = std::move(profile); }
  void AddChannelData(const std::string& id, const std::string& channel, json data) {
    channel_data_[{id, channel}] = std::move(data);
  }
  const json* Find(const std::string& id) const override {
    auto found = profiles_.find(id);
    return found == profiles_.end() ? nullptr : &found->second;
  }
  const json* FindChannelData(const std::string& id, const std::string& channel) const override {
    auto found = channel_data_.find({id, channel});
    return found == channel_data_.end() ? nullptr : &found->second;
  }

 private:
  std::map<std::string, json> profiles_;
  std::map<std::pair<std::string, std::string>, json> channel_data_;
};

class FakePreferences final : public PreferenceDirectory {
 public:
  void SetUser(const std::string& user, const json& set) {
    auto parsed = preferences::ParsePreferenceSet(set, "preferences");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    users_[user] = std::move(*parsed);
  }
  preferences::LevelSets Find(const std::string& user, const std::string& tenant,
                              const preferences::PreferenceSet* environment) const override {
    preferences::LevelSets sets;
    sets.environment = environment;
    auto found = users_.find(user);
    if (found != users_.end()) sets.user = &found->second;
    return sets;
  }

 private:
  std::map<std::string, preferences::PreferenceSet> users_;
};

class FakeTenants final : public TenantDirectory {
 public:
  void Add(const std::string& id, json tenant) { tenants_[id] = std::move(tenant); }
  const json* Find(const std::string& id) const override {
    auto found = tenants_.find(id);
    return found == tenants_.end() ? nullptr : &found->second;
  }

 private:
  std::map<std::string, json> tenants_;
};

class FakeMessageStates final : public MessageStates {
 public:
  void Set(const std::string& id, std::string status, std::string engagement_status = "") {
    if (engagement_status.empty()) engagement_status = status;
    states_[id] = messages::MessageState{std::move(status), std::move(engagement_status)};
  }
  const messages::MessageState* Find(const std::string& message_id) const override {
    auto found = states_.find(message_id);
    return found == states_.end() ? nullptr : &found->second;
  }

 private:
  std::map<std::string, messages::MessageState> states_;
};

}  // namespace herald::fanout
