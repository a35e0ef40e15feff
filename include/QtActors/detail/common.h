// Internal building blocks shared by every QtActors header: the logging category, the
// ThreadSanitizer hand-off annotations, and a small intrusive reference-counted pointer.
// Do not include directly; include <QtActors/QtActors>.
#pragma once

#include <QtActors/qtactors_export.h>

#include <QtCore/QLoggingCategory>

#include <atomic>
#include <utility>

namespace QtActors {
//! The logging category "qtactors": dropped messages, errors nobody received, misuse.
QTACTORS_EXPORT const QLoggingCategory &lcQtActors();
}

// Qt itself is not built with ThreadSanitizer, so a hand-off through a posted event or a
// QThreadPool queue is invisible to it. The library marks those hand-offs explicitly.
#if defined(__SANITIZE_THREAD__)
#define QTACTORS_HAS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QTACTORS_HAS_TSAN 1
#endif
#endif

#if defined(QTACTORS_HAS_TSAN)
#include <sanitizer/tsan_interface.h>
#define QTACTORS_HANDOFF_RELEASE(p) __tsan_release(const_cast<void *>(static_cast<const void *>(p)))
#define QTACTORS_HANDOFF_ACQUIRE(p) __tsan_acquire(const_cast<void *>(static_cast<const void *>(p)))
#else
#define QTACTORS_HANDOFF_RELEASE(p) static_cast<void>(p)
#define QTACTORS_HANDOFF_ACQUIRE(p) static_cast<void>(p)
#endif

namespace QtActors::detail {

//! false, but only once T is known: for static_asserts in templates that must not be used.
template <typename...>
inline constexpr bool dependentFalse = false;

//! Base for objects shared across threads through intrusive reference counts.
//! ref()/deref() are thread-safe; the object deletes itself when the count reaches zero.
class RefCounted
{
public:
    RefCounted() = default;
    RefCounted(const RefCounted &) = delete;
    RefCounted &operator=(const RefCounted &) = delete;

    void ref() const noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    //! Adds a reference unless the object is already being destroyed (for lists that hold
    //! objects without owning them, and drop them in the objects' destructors).
    bool tryRef() const noexcept
    {
        int n = m_refs.load(std::memory_order_relaxed);
        while (n > 0) {
            if (m_refs.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel,
                                             std::memory_order_relaxed))
                return true;
        }
        return false;
    }
    void deref() const noexcept
    {
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

protected:
    virtual ~RefCounted() = default;

private:
    mutable std::atomic<int> m_refs{1};
};

//! An owning pointer to a RefCounted object. Adopts the initial reference of a new object.
template <typename T>
class Ref
{
public:
    Ref() noexcept = default;
    static Ref adopt(T *p) noexcept
    {
        Ref r;
        r.m_p = p;
        return r;
    }
    static Ref share(T *p) noexcept
    {
        if (p)
            p->ref();
        return adopt(p);
    }
    Ref(const Ref &o) noexcept : m_p(o.m_p)
    {
        if (m_p)
            m_p->ref();
    }
    Ref(Ref &&o) noexcept : m_p(std::exchange(o.m_p, nullptr)) { }
    Ref &operator=(Ref o) noexcept
    {
        std::swap(m_p, o.m_p);
        return *this;
    }
    ~Ref()
    {
        if (m_p)
            m_p->deref();
    }

    T *get() const noexcept { return m_p; }
    T *operator->() const noexcept { return m_p; }
    T &operator*() const noexcept { return *m_p; }
    explicit operator bool() const noexcept { return m_p != nullptr; }
    T *release() noexcept { return std::exchange(m_p, nullptr); }

private:
    T *m_p = nullptr;
};

} // namespace QtActors::detail
