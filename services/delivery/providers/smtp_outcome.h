// How an SMTP exchange's end becomes a DeliveryResult (PROVIDERS.md):
//   2xx                            DELIVERED, "sent"
//   4xx, timeout, connect, TLS     RETRY
//   AUTH refused (535)             RETRY: the channel's credentials are
//                                  wrong, not the message; the circuit
//                                  breaker and an operator fix it
//   5.1.x recipient rejection      FAILED, "bounced"
//   other 5xx                      FAILED, "undelivered"
#pragma once

#include <curl/curl.h>

#include "absl/strings/string_view.h"
#include "services/delivery/delivery_service.h"

namespace herald::delivery {

struct SmtpExchange {
  CURLcode code = CURLE_OK;
  // CURLINFO_RESPONSE_CODE: the last reply code (0 = none).
  long reply_code = 0;
  // The last reply line the server sent ("550 5.1.1 <a@b>: user unknown").
  std::string reply_line;
  // curl's error text ("RCPT failed: 550"): says which command failed.
  std::string error_detail;
  int64_t latency_us = 0;
};

void MapSmtpExchange(const SmtpExchange& exchange, Result& result);

// Whether a 5xx reply refuses the recipient's address itself (a hard
// bounce): enhanced status 5.1.x other than the sender codes 5.1.7/5.1.8,
// or 550/551/553 to RCPT TO without an enhanced code.
bool IsRecipientRejection(long reply_code, absl::string_view reply_line, bool at_rcpt);

}  // namespace herald::delivery
