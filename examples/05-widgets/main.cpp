// 05-widgets: a QWidget whose button slot is a QCoro coroutine. The slot awaits an actor's call,
// so the GUI keeps running while a pool thread counts primes, and resumes on the GUI thread to
// update the label. `--selftest` clicks the button itself (offscreen) and checks the label.
#include <QtActors/QtActors>

#include <QApplication>
#include <QCoroTask>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>
#include <cstdio>
#include <cstring>

class PrimeWindow : public QWidget
{
public:
    PrimeWindow()
    {
        limit.setRange(2, 10'000'000);
        limit.setValue(100'000);
        auto *layout = new QVBoxLayout(this);
        layout->addWidget(&limit);
        layout->addWidget(&button);
        layout->addWidget(&label);
        connect(&button, &QPushButton::clicked, this, &PrimeWindow::countPrimes);
    }
    QSpinBox limit;
    QPushButton button{ QStringLiteral("Count the primes below it") };
    QLabel label;

private:
    QCoro::Task<> countPrimes() // a coroutine slot: back to the event loop at each co_await
    {
        button.setEnabled(false);
        const int below = limit.value();
        // Named, not inline: GCC 12 miscompiles a capturing lambda inside a co_await expression.
        auto count = [below](QHash<int, int> &known) { // State: the answers found so far
            if (const auto it = known.constFind(below); it != known.cend())
                return *it;
            int primes = 0;
            for (int n = 2; n < below; ++n) {
                int d = 2;
                while (d * d <= n && n % d != 0)
                    ++d;
                primes += d * d > n ? 1 : 0;
            }
            known.insert(below, primes);
            return primes;
        };
        auto call = counter.call(std::move(count));
        const int primes = co_await std::move(call); // resumes here, on the GUI thread
        label.setText(QThread::currentThread() != thread()
                              ? QStringLiteral("resumed on the wrong thread")
                              : QStringLiteral("%1 primes below %2").arg(primes).arg(below));
        button.setEnabled(true);
    }
    QtActors::Actor<QHash<int, int>> counter{ {}, { .name = QStringLiteral("prime-counter") } };
};

int main(int argc, char *argv[])
{
    const bool selftest = argc > 1 && std::strcmp(argv[1], "--selftest") == 0;
    if (selftest && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    PrimeWindow window;
    window.show();
    if (!selftest)
        return app.exec();

    QTimer::singleShot(0, &window.button, &QPushButton::click);
    QTimer poll; // no signal says the label changed: look at it from the event loop
    QObject::connect(&poll, &QTimer::timeout, &app, [&window] {
        if (window.label.text() == QStringLiteral("9592 primes below 100000"))
            QApplication::exit(0);
    });
    poll.start(10);
    QTimer::singleShot(10'000, &app, [] { QApplication::exit(1); }); // the deadline
    const int result = app.exec();
    std::printf("label: \"%s\" -> %s\n", qPrintable(window.label.text()), result ? "FAILED" : "ok");
    return result;
}
