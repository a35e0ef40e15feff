// 06-debounced-search: search-as-you-type that searches once the typing pauses. Each keystroke
// re-arms a castAfter() timer (assigning the Timer cancels the previous one) and asks the index
// for an answer through a Reply it keeps; the answer reaches the GUI object through
// then(this, ...), and not at all once the object is gone. A superseded keystroke's Reply is
// dropped, so its call ends with BrokenReply, which onError ignores.
#include <QtActors/QtActors>

#include <QCoreApplication>
#include <QTimer>
#include <cstdio>

using namespace std::chrono_literals;

struct Index
{
    QStringList words{QStringLiteral("apple"), QStringLiteral("apricot"), QStringLiteral("banana")};
    QtActors::Reply<QStringList> pending; // the newest keystroke's
    int searches = 0;
};

class SearchBox : public QObject // a QLineEdit's textEdited would call setText()
{
public:
    void setText(const QString &text)
    {
        auto answer = m_index.call([](Index &index, QtActors::Reply<QStringList> reply) {
            index.pending = std::move(reply); // drops the previous keystroke's: BrokenReply
        });
        m_debounce = m_index.castAfter(200ms, [text](Index &index) {
            ++index.searches;
            if (index.pending.isPending())
                index.pending(index.words.filter(text));
        });
        std::move(answer).then(this, [this](const QStringList &hits) { results = hits; },
                               [](std::exception_ptr) { /* superseded by a later keystroke */ });
    }
    QStringList results;
    QtActors::Actor<Index> m_index;

private:
    QtActors::Timer m_debounce;
};

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    SearchBox box;
    for (const char *typed : {"a", "ap", "apr"}) // typed faster than the debounce delay
        box.setText(QString::fromLatin1(typed));
    QTimer::singleShot(5000, &app, [] { QCoreApplication::exit(1); }); // the deadline
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &app, [&box] {
        if (!box.results.isEmpty())
            QCoreApplication::exit(0);
    });
    poll.start(10);
    const int result = app.exec();
    const int searches = box.m_index.call([](Index &index) { return index.searches; }).wait();
    std::printf("results: %s; searches: %d\n", qPrintable(box.results.join(u',')), searches);
    return result == 0 && box.results == QStringList{QStringLiteral("apricot")} && searches == 1 ? 0 : 1;
}
