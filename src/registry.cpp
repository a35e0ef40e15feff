#include "registry_p.h"

namespace QtActors::detail {

Registry &Registry::instance()
{
    static auto *registry = new Registry; // immortal (S15)
    return *registry;
}

void Registry::add(ActorCore *core) noexcept
{
    static thread_local int t_shard = -1;
    if (t_shard < 0)
        t_shard = int(m_nextShard.fetch_add(1, std::memory_order_relaxed) % Shards);
    core->m_registryShard = static_cast<unsigned char>(t_shard);
    Shard &shard = m_shards[t_shard];
    const std::lock_guard lock(shard.mutex);
    core->m_registryPrev = nullptr;
    core->m_registryNext = shard.head;
    if (shard.head)
        shard.head->m_registryPrev = core;
    shard.head = core;
    ++shard.count;
}

void Registry::remove(ActorCore *core) noexcept
{
    Shard &shard = m_shards[core->m_registryShard];
    const std::lock_guard lock(shard.mutex);
    if (core->m_registryPrev)
        core->m_registryPrev->m_registryNext = core->m_registryNext;
    else
        shard.head = core->m_registryNext;
    if (core->m_registryNext)
        core->m_registryNext->m_registryPrev = core->m_registryPrev;
    core->m_registryPrev = core->m_registryNext = nullptr;
    --shard.count;
}

qsizetype Registry::liveCount() const noexcept
{
    qsizetype n = 0;
    for (const Shard &shard : m_shards) {
        const std::lock_guard lock(shard.mutex);
        n += shard.count;
    }
    return n;
}

qsizetype liveActorCount() noexcept
{
    return Registry::instance().liveCount();
}

} // namespace QtActors::detail
