// HvdService: what hvd serves. Every domain runs in its own hv-domain
// process (fault isolation; domains outlive hvd). hvd keeps an index of
// domid and name to process, kept current from the processes' events, so
// each request costs O(1) calls to domain processes (list and dmesg ask
// them all at once, in parallel). Everything runs on hvd's one io thread
// and never blocks it: calls to domain processes are asynchronous with a
// timeout each, waits complete from events, and file work (config
// parsing, the managed store, member access checks) runs on a small
// fixed pool. hvd's thread count does not grow with domains or clients.
//
// Identity: names are unique across create, rename and start (checked
// and reserved here, on the one thread, before any process is asked);
// domids are leases no process can take while another holds them
// (control/domid_counter.hpp).
//
// Faults: a process that stops answering is marked unresponsive (list,
// events); one that dies is a crash of its domains, reported with events
// and handled by their on_crash action.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "control/domid_counter.hpp"
#include "control/service.hpp"
#include "core/domain_state.hpp"
#include "domain_link.hpp"
#include "managed_store.hpp"
#include "config/cpu_list.hpp"
#include "monitor/sched_host.hpp"
#include "monitor/shared_mapping.hpp"

namespace hvd {

struct HvdOptions {
    std::string state_dir;
    std::string domain_binary; // hv-domain
    std::string log_level = "info";
    std::chrono::milliseconds call_timeout{5000};    // any call to a domain process
    std::chrono::milliseconds create_timeout{30000}; // its create (reads the kernel, builds the VM)
    std::chrono::milliseconds list_timeout{1000};    // list/dmesg: a slower process shows as unresponsive
    std::chrono::milliseconds spawn_timeout{10000};  // a new process says it listens
    // The host scheduler's policy; unset: none (Linux schedules the vCPU
    // threads). pcpus: the host CPUs given to hv (empty: all hvd may use).
    std::optional<hv::core::sched::Policy> sched = hv::core::sched::Policy::credit;
    hv::core::sched::CpuMask pcpus;
};

class HvdService final : public hv::control::Service {
public:
    HvdService(boost::asio::io_context& io, HvdOptions options, std::shared_ptr<spdlog::logger> log,
               std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring);
    ~HvdService() override;

    // Creates the state folders, cleans leftovers and starts re-attaching
    // to the domain processes a previous hvd left running. Requests that
    // arrive meanwhile wait for it (a few seconds at most).
    hv::Result<void> start();

    void call(const hv::control::Peer& peer, uint32_t op, std::string payload,
              std::function<void(hv::control::Reply)> done) override;
    hv::Result<std::unique_ptr<hv::sdk::Subscription>> subscribe_events(std::function<void(const hv::sdk::Event&)> fn) override;
    void subscribe_console(const hv::control::Peer& peer, uint32_t domid, hv::sdk::ConsoleType type, hv::control::ConsoleSink sink,
                           std::function<void(hv::Result<std::unique_ptr<hv::sdk::Subscription>>)> done) override;

    size_t domain_count() const { return doms_.size(); }

private:
    using Reply = hv::control::Reply;
    using ReplyFn = std::function<void(Reply)>;
    using InfoFn = std::function<void(hv::Result<hv::sdk::DomainInfo>)>;

    struct Proc {
        uint64_t serial = 0;
        pid_t pid = -1;
        int pidfd = -1;
        std::unique_ptr<boost::asio::posix::stream_descriptor> watch; // readable: it died
        std::string socket;
        std::string log_file;
        std::shared_ptr<DomainLink> link;
        std::set<uint32_t> domids;
        bool unresponsive = false;
        bool gone = false;
        bool killed_by_destroy = false; // hvd killed it to carry out a destroy
        std::optional<hv::sdk::CreateRequest> request; // what it was created from (restart on crash)
        hv::control::Peer creator;                     // who created it (a restart is checked as them)
        hv::core::ShutdownAction on_crash = hv::core::ShutdownAction::destroy;
        std::shared_ptr<hv::sched::SharedMapping> sched_page; // its SOCKET.sched, mapped while scheduled
        uint32_t sched_domid = 0;            // the domain its page is scheduled as (0: none)
        // Device attaches and detaches, one at a time on a connection of
        // their own (hvd_devices.cpp); the others wait their turn.
        std::shared_ptr<DomainLink> device_link; // the one running
        std::deque<std::function<void()>> device_queue;
    };
    using ProcPtr = std::shared_ptr<Proc>;

    struct Dom {
        ProcPtr proc; // null: its process died and on_crash preserved it
        hv::sdk::DomainInfo last;
        bool probing = false, probe_again = false;
    };

    struct Waiter {
        uint32_t domid = 0;
        InfoFn done;
        std::unique_ptr<boost::asio::steady_timer> timer;
    };

    struct Checked { // a create request after its file work
        hv::sdk::CreateRequest req;
        hv::control::Peer peer;
        std::string name;
        hv::core::ShutdownAction on_crash = hv::core::ShutdownAction::destroy;
    };

    // Requests (hvd_service.cpp).
    void dispatch(const hv::control::Peer& peer, uint32_t op, std::string payload, ReplyFn done);
    void forward(uint32_t domid, uint32_t op, std::string payload, ReplyFn done);
    void do_create(const hv::control::Peer& peer, hv::sdk::CreateRequest req, std::function<void(Reply)> done);
    void do_destroy(uint32_t domid, std::string payload, ReplyFn done);
    void do_shutdown(std::string payload, ReplyFn done);
    void do_rename(std::string payload, ReplyFn done);
    void do_wait(uint32_t domid, std::chrono::milliseconds timeout, InfoFn done);
    void do_list(ReplyFn done);
    void do_dmesg(ReplyFn done);
    void do_managed(const hv::control::Peer& peer, uint32_t op, std::string payload, ReplyFn done);
    // Device hotplug (hvd_devices.cpp).
    void do_attach(const hv::control::Peer& peer, std::string payload, ReplyFn done);
    void do_detach(std::string payload, ReplyFn done);
    void device_call(uint32_t domid, uint32_t op, std::string payload, std::chrono::milliseconds timeout, ReplyFn done);
    void device_next(const ProcPtr& p);
    void vif_devid_of(uint32_t domid, const std::string& device, std::function<void(std::string)> then);
    void persist_device(const std::string& name, std::function<hv::Result<hv::sdk::CreateRequest>(const hv::sdk::CreateRequest&)> change,
                        std::string done_live, ReplyFn done);
    hv::Result<uint32_t> lookup(std::string_view name_or_id) const;
    // Runs `work` on the pool and `then` with its result on the io thread.
    template <class T>
    void offload(std::function<T()> work, std::function<void(T)> then);

    // Processes (hvd_procs.cpp).
    void spawn_and_create(Checked c, std::function<void(Reply)> done);
    void spawn_proc(const std::string& log_name, std::function<void(ProcPtr, std::string)> ready);
    void create_in(const ProcPtr& p, Checked c, std::function<void(Reply)> done);
    void refill_spare();
    void attach(const std::string& socket, std::function<void()> finished);
    void list_adopted(const ProcPtr& p, std::function<void()> finished);
    ProcPtr adopt(std::shared_ptr<DomainLink> link, const std::string& socket, pid_t pid, int pidfd);
    void watch_death(const ProcPtr& p);
    void arm_death_watch(const ProcPtr& p);
    void proc_died(const ProcPtr& p);
    void crash_domain(const ProcPtr& p, uint32_t domid, const std::string& status);
    void kill_proc(const ProcPtr& p);
    void on_proc_event(const ProcPtr& p, const hv::sdk::wire::Frame& f);
    void set_unresponsive(const ProcPtr& p, bool yes);
    void index_domain(const ProcPtr& p, uint32_t domid, const std::string& name);
    void unindex_domain(uint32_t domid, hv::sdk::DomainInfo last);
    void fetch_last_word(const ProcPtr& p, uint32_t domid);
    void keep_process_log(const ProcPtr& p);
    void probe(uint32_t domid);
    void complete_waiters(uint32_t domid, const hv::Result<hv::sdk::DomainInfo>& r);
    void publish(const hv::sdk::Event& e);
    DomainLink::Handlers link_handlers(const std::weak_ptr<Proc>& weak);
    // The host scheduler takes in / lets go of a process's domain.
    void sched_attach(const ProcPtr& p, uint32_t domid);
    void sched_detach(const ProcPtr& p);

    boost::asio::io_context& io_;
    HvdOptions options_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
    ManagedStore managed_;
    hv::control::DomidCounter leases_; // for domains hvd keeps after their process died
    boost::asio::thread_pool pool_{2};
    hv::sched::SharedMapping bell_map_;           // STATE/run/sched.bell
    std::unique_ptr<hv::sched::SchedHost> sched_; // null: --sched none
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    bool ready_ = false; // the initial re-attach is done
    std::vector<std::function<void()>> deferred_;
    boost::asio::steady_timer ready_timer_;

    uint64_t next_serial_ = 0;
    unsigned spawned_ = 0;
    std::random_device random_;
    ProcPtr spare_;              // a started, linked, domain-less process for the next create
    bool spare_pending_ = false; // one is being started
    std::map<uint64_t, ProcPtr> procs_;
    std::map<uint32_t, Dom> doms_;
    std::unordered_map<std::string, uint32_t> by_name_;
    std::set<std::string> reserved_; // names of creates and renames in flight
    std::map<uint32_t, hv::sdk::DomainInfo> gone_; // last word of destroyed domains (newest kGoneKept)
    std::deque<std::string> kept_log_;              // exited processes' dmesg lines (newest kKeptLog)

    uint64_t next_waiter_ = 0;
    std::map<uint64_t, Waiter> waiters_;
    std::multimap<uint32_t, uint64_t> waiting_; // domid -> waiter

    int next_sub_ = 1;
    std::map<int, std::function<void(const hv::sdk::Event&)>> subscribers_;
};

template <class T>
void HvdService::offload(std::function<T()> work, std::function<void(T)> then) {
    auto alive = alive_;
    boost::asio::post(pool_, [this, alive, work = std::move(work), then = std::move(then)]() mutable {
        auto result = std::make_shared<T>(work());
        boost::asio::post(io_, [alive, result, then = std::move(then)] {
            if (*alive) then(std::move(*result));
        });
    });
}

} // namespace hvd
