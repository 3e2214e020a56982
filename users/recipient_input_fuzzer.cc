// libFuzzer target for recipient input parsed from outside: channel data,
// tenant settings, object refs. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include "herald/v1/herald.pb.h"
#include "objects/object_store.h"
#include "tenants/tenant_store.h"
#include "users/channel_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto parsed = herald::users::ValidateChannelData(input);
      if (parsed.ok()) (void)herald::users::MergeChannelData(*parsed, *parsed).dump();
      break;
    }
    case 1: {
      herald::v1::IdentifyTenantRequest request;
      request.set_id("t");
      request.set_settings_json(input);
      (void)herald::tenants::IdentifyCommand(request, 4, 0);
      break;
    }
    default: {
      herald::v1::IdentifyObjectRequest request;
      size_t slash = input.find('/');
      request.mutable_object()->set_collection(input.substr(0, slash));
      if (slash != std::string::npos) request.mutable_object()->set_id(input.substr(slash + 1));
      request.set_properties_json(input);
      (void)herald::objects::IdentifyCommand(request, 4, 0);
      break;
    }
  }
  return 0;
}
