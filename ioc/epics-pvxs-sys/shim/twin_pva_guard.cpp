/* twin_pva_guard.cpp - PV Access puts to the twin's records are checked
 * before they touch a record.
 *
 * QSRV2 (pvxs) serves the IOC's records through the server source
 * "qsrvSingle" (records) and "qsrvGroup" (group PVs). At iocRun, before
 * the PVA server starts, the guard puts a thin proxy in the place of each
 * that forwards everything and looks at each PUT first:
 * - a number that is not finite (NaN, +-inf, in a scalar or an array,
 *   anywhere in the structure the client sent) is refused with "value is not a finite number" and the record
 *   shows WRITE/INVALID with that reason. Without the guard, the ao
 *   record's drive limits would clamp +inf to DRVH and apply it;
 * - a put that asks not to process the record (record[process=false]) is
 *   refused: it would write the value field without the twin's model
 *   seeing it.
 * - a get, put or monitor of a record the client may not read under the
 *   IOC's access security (the hidden truth for non-instructors) is
 *   refused: QSRV2 checks access security for puts only.
 * Everything else goes to QSRV2 unchanged (access security of puts, DISP,
 * put completion).
 *
 * The proxies implement pvxs's public server interfaces (source.h); they
 * depend on pvxs's class layout, hence the pinned pvxslibs version. */
#define PVXS_ENABLE_EXPERT_API

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include <pvxs/data.h>
#include <pvxs/iochooks.h>
#include <pvxs/server.h>
#include <pvxs/source.h>

extern "C" {
#include "twin_shim.h"
}

namespace {

using namespace pvxs;
using namespace pvxs::server;

template <typename T> bool all_finite(const Value &field)
{
    auto arr = field.as<shared_array<const T>>();
    for (auto v : arr)
        if (!std::isfinite(v))
            return false;
    return true;
}

/* Why a put must be refused, or "" when it may go on. */
std::string refusal(const Value &pvRequest, const Value &top)
{
    auto proc = pvRequest["record._options.process"];
    if (proc.valid()) {
        bool b = true;
        if (proc.as(b) && !b)
            return "put without processing (record[process=false]) is refused: the twin's model takes "
                   "every value through processing";
    }
    /* every number the client sent: "value" of a single record, the
     * member fields of a group */
    for (auto fld : top.imarked()) {
        bool finite = true;
        switch (fld.type().code) {
        case TypeCode::Float64: finite = std::isfinite(fld.as<double>()); break;
        case TypeCode::Float32: finite = std::isfinite(fld.as<float>()); break;
        case TypeCode::Float64A: finite = all_finite<double>(fld); break;
        case TypeCode::Float32A: finite = all_finite<float>(fld); break;
        default: break;
        }
        if (!finite)
            return "value is not a finite number";
    }
    return "";
}

struct GuardedConnect final : ConnectOp {
    std::unique_ptr<ConnectOp> real;
    explicit GuardedConnect(std::unique_ptr<ConnectOp> &&r)
        : ConnectOp(r->name(), r->credentials(), r->op(), r->pvRequest()), real(std::move(r))
    {
    }
    void connect(const Value &prototype) override { real->connect(prototype); }
    void error(const std::string &msg) override { real->error(msg); }
    void onGet(std::function<void(std::unique_ptr<ExecOp> &&)> &&fn) override { real->onGet(std::move(fn)); }
    void onClose(std::function<void(const std::string &)> &&fn) override { real->onClose(std::move(fn)); }
    void logRemote(Level lvl, const std::string &msg) override { real->logRemote(lvl, msg); }
    void onPut(std::function<void(std::unique_ptr<ExecOp> &&, Value &&)> &&fn) override
    {
        std::string pv = name();
        real->onPut([fn, pv](std::unique_ptr<ExecOp> &&op, Value &&top) {
            std::string why = refusal(op->pvRequest(), top);
            if (why.empty()) {
                fn(std::move(op), std::move(top));
                return;
            }
            twin_trap_refused_by_name(pv.c_str(), why.c_str());
            op->error(why);
        });
    }
};

const char *const NO_READ = "Read not permitted (access security)";

bool readable(const std::string &name, const std::shared_ptr<const ClientCredentials> &cred)
{
    if (!cred)
        return true;
    return twin_access_can_read(name.c_str(), cred->account.c_str(), cred->peer.c_str()) != 0;
}

struct GuardedChannel final : ChannelControl {
    std::unique_ptr<ChannelControl> real;
    bool can_read;
    explicit GuardedChannel(std::unique_ptr<ChannelControl> &&r)
        : ChannelControl(r->name(), r->credentials(), r->op()), real(std::move(r)),
          can_read(readable(name(), credentials()))
    {
    }
    void onOp(std::function<void(std::unique_ptr<ConnectOp> &&)> &&fn) override
    {
        auto handler = std::move(fn);
        bool ok = can_read;
        real->onOp([handler, ok](std::unique_ptr<ConnectOp> &&op) {
            if (!ok) {
                op->error(NO_READ);
                return;
            }
            handler(std::unique_ptr<ConnectOp>(new GuardedConnect(std::move(op))));
        });
    }
    void onRPC(std::function<void(std::unique_ptr<ExecOp> &&, Value &&)> &&fn) override
    {
        real->onRPC(std::move(fn));
    }
    void onSubscribe(std::function<void(std::unique_ptr<MonitorSetupOp> &&)> &&fn) override
    {
        auto handler = std::move(fn);
        bool ok = can_read;
        real->onSubscribe([handler, ok](std::unique_ptr<MonitorSetupOp> &&op) {
            if (!ok) {
                op->error(NO_READ);
                return;
            }
            handler(std::move(op));
        });
    }
    void onClose(std::function<void(const std::string &)> &&fn) override { real->onClose(std::move(fn)); }
    void close() override { real->close(); }

private:
    void _updateInfo(const std::shared_ptr<const ReportInfo> &info) override { real->updateInfo(info); }
};

struct GuardedSource final : Source {
    std::shared_ptr<Source> inner;
    explicit GuardedSource(std::shared_ptr<Source> i) : inner(std::move(i)) {}
    void onSearch(Search &op) override { inner->onSearch(op); }
    void onCreate(std::unique_ptr<ChannelControl> &&op) override
    {
        std::unique_ptr<ChannelControl> wrapped(new GuardedChannel(std::move(op)));
        inner->onCreate(std::move(wrapped));
        /* not QSRV2's record (e.g. a group PV): the server offers the
         * channel to the next source, so hand the real one back */
        if (wrapped)
            op = std::move(static_cast<GuardedChannel *>(wrapped.get())->real);
    }
    List onList() override { return inner->onList(); }
    void show(std::ostream &strm) override { inner->show(strm); }
};

int guard_status = TWIN_PVA_GUARD_PENDING;

} // namespace

extern "C" void twin_pva_guard_install(void)
{
    try {
        auto srv = pvxs::ioc::server();
        guard_status = TWIN_PVA_GUARD_NO_QSRV;
        for (const char *name : {"qsrvSingle", "qsrvGroup"}) {
            auto inner = srv.getSource(name, 0);
            if (!inner)
                continue;
            srv.removeSource(name, 0);
            srv.addSource(name, std::make_shared<GuardedSource>(inner), 0);
            guard_status = TWIN_PVA_GUARD_INSTALLED;
        }
    } catch (std::exception &e) {
        std::fprintf(stderr, "twin: PVA put guard not installed: %s\n", e.what());
        guard_status = TWIN_PVA_GUARD_FAILED;
    }
}

extern "C" int twin_pva_guard_status(void) { return guard_status; }

/* PV Access clients of QSRV2 now: open connections and the channels on
 * them (a gateway in front shows as one connection with one channel per
 * PV, whatever its own clients number). 0 on success, -1 without QSRV2. */
extern "C" int twin_pva_clients(uint32_t *connections, uint32_t *channels)
{
    try {
        auto srv = pvxs::ioc::server();
        if (!srv)
            return -1;
        auto report = srv.report(false);
        uint32_t conns = 0, chans = 0;
        for (const auto &c : report.connections) {
            conns++;
            chans += static_cast<uint32_t>(c.channels.size());
        }
        *connections = conns;
        *channels = chans;
        return 0;
    } catch (std::exception &) {
        return -1;
    }
}
