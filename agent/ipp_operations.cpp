// The capture printer's operations (RFC 8011 sections 4.2 and 4.3): what each checks, what it
// stores, and the attributes it answers with.
#include <climits>
#include <cstring>

#include "ipp_peer_owner.h"
#include "ipp_printer_attributes.h"
#include "ipp_printer_private.h"
#include "lpm/fault.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::agent {

namespace {

constexpr int64_t kSecondMs = 1000;

// status-message is text(255).
std::string truncated(const std::string &text, size_t max = 255) {
  if (text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
    n--; // whole UTF-8 characters
  return text.substr(0, n);
}

bool visible(JobState s) {
  return s == JobState::held || s == JobState::claimed || s == JobState::printing || s == JobState::printed;
}

const char *held_message(JobState s) {
  switch (s) {
  case JobState::held: return "held for release";
  case JobState::claimed:
  case JobState::printing: return "being released at a printer";
  case JobState::printed: return "printed; kept for reprint";
  default: return "held by the agent";
  }
}

// What one job looks like to IPP.
struct JobDescription {
  int32_t id = 0;
  std::string name;
  std::string account;
  ipp_jstate_t state = IPP_JSTATE_COMPLETED;
  const char *reason = "job-completed-successfully";
  std::string message;
  int64_t created_ms = 0;
  int64_t processing_ms = 0; // 0: not yet
  int64_t completed_ms = 0;  // 0: not yet
  int documents = 1;
  uint64_t size_bytes = 0;
  int64_t pages = -1;
  uint64_t copies = 1;
  std::string sides;
  std::string color;
};

JobDescription describe(const Job &job, int32_t id) {
  JobDescription d;
  d.id = id;
  d.name = job.title.empty() ? "Untitled" : job.title;
  d.account = job.os_account;
  d.message = held_message(job.state);
  d.created_ms = job.submitted_ms;
  d.processing_ms = job.submitted_ms;
  // A held job became complete (for IPP) when it was stored; later states keep no such time.
  d.completed_ms = job.state == JobState::held ? job.state_ms : job.submitted_ms;
  d.size_bytes = job.size_bytes;
  d.pages = job.pages;
  d.copies = job.copies;
  d.sides = job.sides;
  d.color = job.color;
  return d;
}

JobDescription describe(const PendingJob &p) {
  JobDescription d;
  d.id = p.id;
  d.name = p.ticket.title.empty() ? "Untitled" : p.ticket.title;
  d.account = p.owner.account;
  d.state = p.receiving ? IPP_JSTATE_PROCESSING : IPP_JSTATE_PENDING;
  d.reason = p.receiving ? "job-incoming" : "job-data-insufficient";
  d.message = p.receiving ? "receiving its document" : "waiting for its document (Send-Document)";
  d.created_ms = p.created_ms;
  d.processing_ms = p.receiving ? p.touched_ms : 0;
  d.documents = p.document ? 1 : 0;
  d.size_bytes = p.document ? p.document->size_bytes() : 0;
  d.copies = p.ticket.copies;
  d.sides = p.ticket.sides;
  d.color = p.ticket.color;
  return d;
}

void add_time(ipp_t *a, const char *seconds_name, const char *date_name, int64_t ms) {
  if (ms <= 0) {
    ippAddOutOfBand(a, IPP_TAG_JOB, IPP_TAG_NOVALUE, seconds_name);
    ippAddOutOfBand(a, IPP_TAG_JOB, IPP_TAG_NOVALUE, date_name);
    return;
  }
  time_t t = static_cast<time_t>(ms / kSecondMs);
  ippAddInteger(a, IPP_TAG_JOB, IPP_TAG_INTEGER, seconds_name, static_cast<int>(t));
  ippAddDate(a, IPP_TAG_JOB, date_name, ippTimeToDate(t));
}

// Every job attribute the printer reports (group job-attributes), for requested-attributes to
// choose from.
IppPtr job_attributes(const JobDescription &d, uint16_t port) {
  IppPtr out(ippNew());
  ipp_t *a = out.get();
  std::string printer_uri = ipp_printer_uri(port);
  std::string job_uri = printer_uri + "/" + std::to_string(d.id);
  ippAddInteger(a, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-id", d.id);
  ippAddString(a, IPP_TAG_JOB, IPP_TAG_URI, "job-uri", nullptr, job_uri.c_str());
  ippAddString(a, IPP_TAG_JOB, IPP_TAG_URI, "job-printer-uri", nullptr, printer_uri.c_str());
  ippAddString(a, IPP_TAG_JOB, IPP_TAG_NAME, "job-name", nullptr, truncated(d.name).c_str());
  ippAddString(a, IPP_TAG_JOB, IPP_TAG_NAME, "job-originating-user-name", nullptr, d.account.c_str());
  ippAddInteger(a, IPP_TAG_JOB, IPP_TAG_ENUM, "job-state", d.state);
  ippAddString(a, IPP_TAG_JOB, IPP_TAG_KEYWORD, "job-state-reasons", nullptr, d.reason);
  ippAddString(a, IPP_TAG_JOB, IPP_TAG_TEXT, "job-state-message", nullptr, d.message.c_str());
  ippAddInteger(a, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-printer-up-time", static_cast<int>(time(nullptr)));
  add_time(a, "time-at-creation", "date-time-at-creation", d.created_ms);
  add_time(a, "time-at-processing", "date-time-at-processing", d.processing_ms);
  add_time(a, "time-at-completed", "date-time-at-completed", d.completed_ms);
  ippAddInteger(a, IPP_TAG_JOB, IPP_TAG_INTEGER, "number-of-documents", d.documents);
  uint64_t k = (d.size_bytes + 1023) / 1024;
  ippAddInteger(a, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-k-octets",
                static_cast<int>(std::min<uint64_t>(k, INT_MAX)));
  if (d.pages >= 0)
    ippAddInteger(a, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-impressions",
                  static_cast<int>(std::min<int64_t>(d.pages, INT_MAX)));
  else
    ippAddOutOfBand(a, IPP_TAG_JOB, IPP_TAG_NOVALUE, "job-impressions");
  ippAddInteger(a, IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", static_cast<int>(d.copies));
  ippAddString(a, IPP_TAG_JOB, IPP_TAG_KEYWORD, "sides", nullptr, d.sides.c_str());
  ippAddString(a, IPP_TAG_JOB, IPP_TAG_KEYWORD, "print-color-mode", nullptr, d.color.c_str());
  return out;
}

// Copies the attributes of `source` named in `names`.
void copy_named(ipp_t *response, ipp_t *source, std::initializer_list<const char *> names) {
  for (ipp_attribute_t *attr = ippFirstAttribute(source); attr != nullptr; attr = ippNextAttribute(source))
    for (const char *n : names)
      if (ippGetName(attr) != nullptr && std::strcmp(ippGetName(attr), n) == 0) {
        ippCopyAttribute(response, attr, 0);
        break;
      }
}

// What Print-Job, Create-Job and Send-Document answer with (RFC 8011 section 4.2.1.2).
void add_job_summary(ipp_t *response, const JobDescription &d, uint16_t port) {
  IppPtr all = job_attributes(d, port);
  copy_named(response, all.get(),
             {"job-id", "job-uri", "job-state", "job-state-reasons", "job-state-message"});
}

IppOutcome not_authorized(const Error &e) {
  return IppOutcome::fail(IPP_STATUS_ERROR_NOT_AUTHORIZED, e.message);
}

IppOutcome no_such_job(int32_t id) {
  return IppOutcome::fail(IPP_STATUS_ERROR_NOT_FOUND,
                          "there is no job " + std::to_string(id) + " of yours on this printer");
}

} // namespace

IppPtr ipp_new_response(int major, int minor, int request_id, const IppOutcome &outcome) {
  IppPtr r(ippNew());
  if (major < 1 || major > 2) {
    major = 1;
    minor = 1;
  }
  ippSetVersion(r.get(), major, minor);
  ippSetRequestId(r.get(), request_id);
  ippSetStatusCode(r.get(), outcome.status);
  ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_CHARSET, "attributes-charset", nullptr, "utf-8");
  ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_LANGUAGE, "attributes-natural-language", nullptr, "en");
  if (!outcome.message.empty())
    ippAddString(r.get(), IPP_TAG_OPERATION, IPP_TAG_TEXT, "status-message", nullptr,
                 truncated(outcome.message).c_str());
  for (ipp_attribute_t *a : outcome.unsupported) {
    ipp_attribute_t *copy = ippCopyAttribute(r.get(), a, 0);
    if (copy != nullptr) ippSetGroupTag(r.get(), &copy, IPP_TAG_UNSUPPORTED_GROUP);
  }
  return r;
}

IppOutcome ipp_outcome_for_store_error(const Error &e) {
  switch (e.code) {
  case Errc::no_space:
    // RFC 8011 has no "disk full": the printer failed to take a job it would otherwise accept.
    return IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL,
                            "job refused, nothing stored was touched: " + e.message);
  case Errc::too_large: return IppOutcome::fail(IPP_STATUS_ERROR_REQUEST_ENTITY, e.message);
  case Errc::bad_request: return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, e.message);
  default:
    return IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, "the agent could not store the job: " + e.message);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared state

void IppPrinter::State::drop_pending(int32_t id) {
  pending.erase(id); // an uncommitted document is discarded with it
  Status s = job_ids->forget(id);
  if (!s.ok()) LPM_WARN("IPP job %d: could not release its job-id: %s", id, s.error().to_string().c_str());
}

void IppPrinter::State::sweep_pending(int64_t now_ms) {
  std::vector<int32_t> late;
  for (const auto &[id, p] : pending)
    if (!p.receiving && now_ms - p.touched_ms > int64_t{options.multiple_operation_timeout_s} * kSecondMs)
      late.push_back(id);
  for (int32_t id : late) {
    LPM_WARN("IPP job %d aborted: no document within %d s of its last request (multiple-operation-time-out)",
             id, options.multiple_operation_timeout_s);
    drop_pending(id);
  }
}

Result<JobOwner> IppCaller::owner(const std::string &requesting_user) {
  if (!uid_) uid_ = state_.options.peer_uid ? state_.options.peer_uid(ends_) : tcp_peer_uid(ends_);
  if (!uid_->ok())
    return make_error(Errc::forbidden,
                      "cannot tell which OS account owns this connection: " + uid_->error().message);
  return capture_owner(uid_->value(), requesting_user, state_.spooler_uid, state_.options.bindings,
                       state_.options.logins.get());
}

// ---------------------------------------------------------------------------------------------
// The exchange

struct IppExchange::Found {
  Job job;
};

IppExchange::~IppExchange() {
  // A Send-Document that never finished leaves its job waiting again (the sweep aborts it).
  if (sending_to_ != 0) {
    auto it = state_->pending.find(sending_to_);
    if (it != state_->pending.end()) {
      it->second.receiving = false;
      it->second.touched_ms = wall_ms();
    }
  }
}

IppPtr IppExchange::respond(const IppOutcome &outcome) {
  return ipp_new_response(header_.major, header_.minor, header_.request_id, outcome);
}

void IppExchange::refuse(IppOutcome outcome) {
  if (!refused_) refused_ = std::move(outcome);
  document_.reset();
}

void IppExchange::begin(const IppHeader &header, IppPtr request) {
  header_ = header;
  request_ = std::move(request);
  IppOutcome checked = ipp_check_request(header_, request_.get(), target_);
  if (!checked.ok()) return refuse(std::move(checked));
  switch (static_cast<ipp_op_t>(header_.operation)) {
  case IPP_OP_PRINT_JOB:
    op_ = Op::print_job;
    begin_print_job();
    break;
  case IPP_OP_SEND_DOCUMENT:
    op_ = Op::send_document;
    begin_send_document();
    break;
  default: op_ = Op::other; break;
  }
}

void IppExchange::begin_print_job() {
  accepted_ = ipp_read_job_ticket(request_.get(), state_->options.capabilities, ticket_);
  if (!accepted_.ok()) return refuse(accepted_);
  auto owner = caller_.owner(ticket_.requesting_user);
  if (!owner.ok()) return refuse(not_authorized(owner.error()));
  owner_ = *owner;
  NewJob job;
  job.user = owner_.user;
  job.os_account = owner_.account;
  job.title = ticket_.title.empty() ? "Untitled" : ticket_.title;
  job.format = ticket_.format;
  job.copies = ticket_.copies;
  job.sides = ticket_.sides;
  job.color = ticket_.color;
  document_ = std::make_unique<CaptureDocument>(state_->store, job, state_->options.capabilities.document_formats);
}

void IppExchange::begin_send_document() {
  accepted_ = ipp_read_job_ticket(request_.get(), state_->options.capabilities, ticket_);
  if (!accepted_.ok()) return refuse(accepted_);
  if (!ticket_.last_document)
    return refuse(IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST,
                                   "last-document is required in Send-Document (RFC 8011 section 4.3.1)"));
  auto owner = caller_.owner(ticket_.requesting_user);
  if (!owner.ok()) return refuse(not_authorized(owner.error()));
  owner_ = *owner;
  int32_t id = *target_.job_id;
  auto it = state_->pending.find(id);
  if (it == state_->pending.end() || it->second.owner.user != owner_.user) {
    if (it == state_->pending.end() && find_job(id, owner_).ok())
      return refuse(
          IppOutcome::fail(IPP_STATUS_ERROR_NOT_POSSIBLE,
                           "job " + std::to_string(id) + " is already stored; it takes no more documents"));
    return refuse(no_such_job(id));
  }
  PendingJob &p = it->second;
  if (p.receiving)
    return refuse(IppOutcome::fail(IPP_STATUS_ERROR_BUSY, "another Send-Document for job " +
                                                              std::to_string(id) + " is in progress"));
  p.receiving = true;
  p.touched_ms = wall_ms();
  sending_to_ = id;
  NewJob job;
  job.user = p.owner.user;
  job.os_account = p.owner.account;
  job.title = !p.ticket.title.empty() ? p.ticket.title : !ticket_.title.empty() ? ticket_.title : "Untitled";
  job.format = ticket_.format;
  job.copies = p.ticket.copies;
  job.sides = p.ticket.sides;
  job.color = p.ticket.color;
  document_ = std::make_unique<CaptureDocument>(state_->store, job, state_->options.capabilities.document_formats);
}

void IppExchange::document_data(std::span<const uint8_t> data) {
  if (refused_ || !document_ || data.empty()) return;
  if (op_ == Op::send_document) {
    auto it = state_->pending.find(sending_to_);
    if (it != state_->pending.end() && it->second.document)
      return refuse(IppOutcome::fail(IPP_STATUS_ERROR_MULTIPLE_JOBS_NOT_SUPPORTED,
                                     "job " + std::to_string(sending_to_) +
                                         " already has its document: one document per job"));
  }
  Status s = document_->write(data);
  if (!s.ok()) {
    LPM_WARN("IPP job from %s not stored: %s", owner_.account.c_str(), s.error().to_string().c_str());
    store_failed_ = true;
    refuse(document_->format_refused()
               ? IppOutcome::fail(IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED, s.error().message)
               : ipp_outcome_for_store_error(s.error()));
  }
}

IppPtr IppExchange::finish() {
  if (refused_) {
    if (op_ == Op::send_document && sending_to_ != 0 && store_failed_) {
      // The printer failed the job's document (disk full, ...): the job is aborted.
      state_->drop_pending(sending_to_);
      sending_to_ = 0;
    }
    return respond(*refused_);
  }
  return run_operation();
}

IppPtr IppExchange::run_operation() {
  // ipp_check_request let only ipp_operations_supported() through.
  switch (static_cast<ipp_op_t>(header_.operation)) {
  case IPP_OP_PRINT_JOB: return finish_print_job();
  case IPP_OP_SEND_DOCUMENT: return finish_send_document();
  case IPP_OP_VALIDATE_JOB: return validate_job();
  case IPP_OP_CREATE_JOB: return create_job();
  case IPP_OP_GET_PRINTER_ATTRIBUTES: return get_printer_attributes();
  case IPP_OP_GET_JOBS: return get_jobs();
  case IPP_OP_GET_JOB_ATTRIBUTES: return get_job_attributes();
  case IPP_OP_CANCEL_JOB: return cancel_job();
  default:
    return respond(IppOutcome::fail(IPP_STATUS_ERROR_OPERATION_NOT_SUPPORTED, "operation not supported"));
  }
}

IppPtr IppExchange::job_response(const IppOutcome &outcome, const Job &job, int32_t id) {
  IppPtr r = respond(outcome);
  add_job_summary(r.get(), describe(job, id), state_->port);
  return r;
}

IppPtr IppExchange::finish_print_job() {
  // The job-id row goes in the commit that shows the job: one durable commit for both.
  std::optional<int32_t> id;
  auto job = document_->commit([&](const std::string &job_id) -> Status {
    auto assigned = state_->job_ids->id_for(job_id);
    if (!assigned.ok()) return assigned.error();
    id = *assigned;
    return {};
  });
  bool format_refused = document_->format_refused();
  document_.reset();
  if (!job.ok()) {
    LPM_WARN("IPP job from %s not stored: %s", owner_.account.c_str(), job.error().to_string().c_str());
    if (format_refused)
      return respond(IppOutcome::fail(IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED, job.error().message));
    return respond(ipp_outcome_for_store_error(job.error()));
  }
  LPM_INFO("job %s held for %s (account %s, IPP job %d, %s, %llu bytes, %lld pages)", job->id.c_str(),
           job->user.c_str(), job->os_account.c_str(), *id, job->format.c_str(),
           static_cast<unsigned long long>(job->size_bytes), static_cast<long long>(job->pages));
  fault_point("ipp.before_response");
  return job_response(accepted_, *job, *id);
}

IppPtr IppExchange::finish_send_document() {
  int32_t id = sending_to_;
  sending_to_ = 0;
  auto it = state_->pending.find(id);
  if (it == state_->pending.end())
    return respond(IppOutcome::fail(IPP_STATUS_ERROR_NOT_POSSIBLE,
                                    "job " + std::to_string(id) +
                                        " was canceled or aborted while its document arrived"));
  PendingJob &p = it->second;
  p.receiving = false;
  p.touched_ms = wall_ms();
  bool sent_now = document_ && document_->size_bytes() > 0;
  if (!*ticket_.last_document) {
    if (sent_now) p.document = std::move(document_);
    IppPtr r = respond(accepted_);
    add_job_summary(r.get(), describe(p), state_->port);
    return r;
  }
  std::unique_ptr<CaptureDocument> doc = sent_now ? std::move(document_) : std::move(p.document);
  if (!doc)
    return respond(
        IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST,
                         "job " + std::to_string(id) + " has no document: send it with this Send-Document"));
  auto job = doc->commit([&](const std::string &job_id) { return state_->job_ids->bind(id, job_id); });
  bool format_refused = doc->format_refused();
  doc.reset();
  if (!job.ok()) {
    LPM_WARN("IPP job %d from %s not stored: %s", id, p.owner.account.c_str(),
             job.error().to_string().c_str());
    state_->drop_pending(id);
    if (format_refused)
      return respond(IppOutcome::fail(IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED, job.error().message));
    return respond(ipp_outcome_for_store_error(job.error()));
  }
  state_->pending.erase(it);
  LPM_INFO("job %s held for %s (account %s, IPP job %d, %s, %llu bytes, %lld pages)", job->id.c_str(),
           job->user.c_str(), job->os_account.c_str(), id, job->format.c_str(),
           static_cast<unsigned long long>(job->size_bytes), static_cast<long long>(job->pages));
  fault_point("ipp.before_response");
  return job_response(accepted_, *job, id);
}

IppPtr IppExchange::validate_job() {
  IppJobTicket ticket;
  IppOutcome outcome = ipp_read_job_ticket(request_.get(), state_->options.capabilities, ticket);
  if (!outcome.ok()) return respond(outcome);
  auto owner = caller_.owner(ticket.requesting_user);
  if (!owner.ok()) return respond(not_authorized(owner.error()));
  return respond(outcome);
}

IppPtr IppExchange::create_job() {
  IppJobTicket ticket;
  IppOutcome outcome = ipp_read_job_ticket(request_.get(), state_->options.capabilities, ticket);
  if (!outcome.ok()) return respond(outcome);
  auto owner = caller_.owner(ticket.requesting_user);
  if (!owner.ok()) return respond(not_authorized(owner.error()));
  if (state_->pending.size() >= state_->options.max_pending_jobs)
    return respond(
        IppOutcome::fail(IPP_STATUS_ERROR_BUSY, std::to_string(state_->pending.size()) +
                                                    " jobs are already waiting for their document; "
                                                    "try again later"));
  auto id = state_->job_ids->reserve();
  if (!id.ok()) return respond(IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, id.error().message));
  PendingJob p;
  p.id = *id;
  p.owner = *owner;
  p.ticket = ticket;
  p.created_ms = p.touched_ms = wall_ms();
  auto [it, inserted] = state_->pending.emplace(*id, std::move(p));
  (void)inserted;
  LPM_INFO("IPP job %d created for %s (account %s); waiting for its document", *id, owner->user.c_str(),
           owner->account.c_str());
  IppPtr r = respond(outcome);
  add_job_summary(r.get(), describe(it->second), state_->port);
  return r;
}

IppPtr IppExchange::get_printer_attributes() {
  RequestedPtr requested(ippCreateRequestedArray(request_.get()));
  IppPtr r = respond(IppOutcome{});
  ipp_copy_requested(r.get(), state_->printer_attributes.get(), requested.get(), IPP_TAG_PRINTER);
  IppPtr dynamic(ippNew());
  ipp_add_printer_state(dynamic.get(), static_cast<int>(state_->pending.size()));
  ipp_copy_requested(r.get(), dynamic.get(), requested.get(), IPP_TAG_PRINTER);
  return r;
}

IppPtr IppExchange::get_jobs() {
  IppJobsQuery query;
  IppOutcome outcome = ipp_read_jobs_query(request_.get(), query);
  if (!outcome.ok()) return respond(outcome);
  auto owner = caller_.owner(ipp_requesting_user(request_.get()));
  if (!owner.ok()) return respond(not_authorized(owner.error()));

  // Without requested-attributes Get-Jobs answers job-id and job-uri only (RFC 8011 4.2.6.1).
  RequestedPtr requested(query.requested_given ? ippCreateRequestedArray(request_.get()) : nullptr);
  IppPtr r = respond(IppOutcome{});
  int limit = query.limit.value_or(INT_MAX);
  int count = 0;
  auto add = [&](const JobDescription &d) {
    if (count > 0) ippAddSeparator(r.get());
    IppPtr all = job_attributes(d, state_->port);
    if (query.requested_given)
      ipp_copy_requested(r.get(), all.get(), requested.get(), IPP_TAG_JOB);
    else
      copy_named(r.get(), all.get(), {"job-id", "job-uri"});
    count++;
  };

  if (query.which != IppJobsQuery::Which::completed)
    for (const auto &[id, p] : state_->pending) {
      if (count >= limit) break;
      if (p.owner.user == owner->user) add(describe(p));
    }
  if (query.which != IppJobsQuery::Which::not_completed && count < limit) {
    // Jobs that came in another way get their job-id here: one transaction for all of them.
    Transaction tx(state_->store->db());
    if (!tx.begun().ok())
      return respond(IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, tx.begun().error().message));
    JobFilter filter;
    filter.users = {owner->user};
    filter.states = {JobState::held, JobState::claimed, JobState::printing, JobState::printed};
    for (;;) {
      auto page = state_->store->list(filter);
      if (!page.ok()) return respond(IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, page.error().message));
      for (const Job &job : page->jobs) {
        if (count >= limit) break;
        auto id = state_->job_ids->id_for(job.id);
        if (!id.ok()) return respond(IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, id.error().message));
        add(describe(job, *id));
      }
      if (page->next.empty() || count >= limit) break;
      filter.after = page->next;
    }
    Status s = tx.commit();
    if (!s.ok()) return respond(IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, s.error().message));
  }
  return r;
}

Result<IppExchange::Found> IppExchange::find_job(int32_t id, const JobOwner &owner) {
  auto job_id = state_->job_ids->job_for(id);
  if (!job_id.ok()) return job_id.error();
  if (!*job_id) return make_error(Errc::not_found, "no such job");
  auto job = state_->store->get(**job_id);
  if (!job.ok()) {
    if (job.error().code == Errc::not_found)
      (void)state_->job_ids->forget(id); // retention or a release took it
    return job.error();
  }
  if (!visible(job->state) || job->user != owner.user) return make_error(Errc::not_found, "no such job");
  return Found{std::move(*job)};
}

IppPtr IppExchange::get_job_attributes() {
  auto owner = caller_.owner(ipp_requesting_user(request_.get()));
  if (!owner.ok()) return respond(not_authorized(owner.error()));
  int32_t id = *target_.job_id;
  RequestedPtr requested(ippCreateRequestedArray(request_.get()));
  IppPtr all;
  auto pending = state_->pending.find(id);
  if (pending != state_->pending.end() && pending->second.owner.user == owner->user) {
    all = job_attributes(describe(pending->second), state_->port);
  } else {
    auto found = find_job(id, *owner);
    if (!found.ok()) {
      if (found.error().code == Errc::not_found) return respond(no_such_job(id));
      return respond(IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, found.error().message));
    }
    all = job_attributes(describe(found->job, id), state_->port);
  }
  IppPtr r = respond(IppOutcome{});
  ipp_copy_requested(r.get(), all.get(), requested.get(), IPP_TAG_JOB);
  return r;
}

IppPtr IppExchange::cancel_job() {
  auto owner = caller_.owner(ipp_requesting_user(request_.get()));
  if (!owner.ok()) return respond(not_authorized(owner.error()));
  int32_t id = *target_.job_id;
  auto pending = state_->pending.find(id);
  if (pending != state_->pending.end() && pending->second.owner.user == owner->user) {
    state_->drop_pending(id);
    LPM_INFO("IPP job %d canceled by %s before its document was stored", id, owner->account.c_str());
    return respond(IppOutcome{});
  }
  auto found = find_job(id, *owner);
  if (!found.ok()) {
    if (found.error().code == Errc::not_found) return respond(no_such_job(id));
    return respond(IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, found.error().message));
  }
  ipp_attribute_t *bad = nullptr;
  bool purge = ipp_boolean_attribute(request_.get(), "purge-job", &bad).value_or(false);
  if (bad != nullptr)
    return respond(IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "purge-job must be one boolean", bad));
  if (!purge)
    return respond(IppOutcome::fail(
        IPP_STATUS_ERROR_NOT_POSSIBLE,
        "job " + std::to_string(id) + " is complete (" + held_message(found->job.state) +
            "): to delete it send Cancel-Job with purge-job=true (cancel -x), or use `lpm jobs delete`"));
  const auto &hook = state_->options.on_delete_in_transaction;
  auto removed = state_->store->remove(
      found->job.id, wall_ms(), [&hook](const Job &job) -> Status { return hook ? hook(job) : Status{}; });
  if (!removed.ok()) {
    if (removed.error().code == Errc::conflict)
      return respond(
          IppOutcome::fail(IPP_STATUS_ERROR_NOT_POSSIBLE,
                           "job " + std::to_string(id) + " is being released at a printer; try again later"));
    if (removed.error().code == Errc::not_found) return respond(no_such_job(id));
    return respond(IppOutcome::fail(IPP_STATUS_ERROR_INTERNAL, removed.error().message));
  }
  (void)state_->job_ids->forget(id);
  if (state_->options.after_delete) state_->options.after_delete();
  LPM_INFO("job %s (IPP job %d) deleted by %s", found->job.id.c_str(), id, owner->account.c_str());
  return respond(IppOutcome{});
}

} // namespace lpm::agent
