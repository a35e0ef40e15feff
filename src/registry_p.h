// Registry: every live actor of the process (S28's Monitor counts them, S29's drain walks them).
// An intrusive doubly linked list per shard; a thread adds to and removes from the shard it was
// given on first use, so spawning takes one uncontended lock and no allocation. An actor is live
// from its core's construction until it has finished (State destroyed) or its core is destroyed.
// Thread contract: every member is thread-safe. forEach() takes a reference on each actor under
// the shard's lock and calls back without any lock held.
#pragma once

#include <QtActors/detail/actorcore.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace QtActors::detail {

class Registry
{
public:
    //! The registry of the process (immortal, like every library global).
    static Registry &instance();

    void add(ActorCore *core) noexcept;
    void remove(ActorCore *core) noexcept;
    //! Actors live right now.
    qsizetype liveCount() const noexcept;
    //! Calls f(ActorCore &) for each live actor (those that finish meanwhile may be skipped).
    template <typename F>
    void forEach(F &&f) const
    {
        std::vector<Ref<ActorCore>> cores;
        for (const Shard &shard : m_shards) {
            const std::lock_guard lock(shard.mutex);
            for (ActorCore *core = shard.head; core; core = core->m_registryNext) {
                if (core->tryRef())
                    cores.push_back(Ref<ActorCore>::adopt(core));
            }
        }
        for (const Ref<ActorCore> &core : cores)
            f(*core);
    }

private:
    static constexpr int Shards = 16;
    struct alignas(64) Shard
    {
        mutable std::mutex mutex;
        ActorCore *head = nullptr;
        qsizetype count = 0;
    };
    Shard m_shards[Shards];
    std::atomic<unsigned> m_nextShard{0};
};

} // namespace QtActors::detail
