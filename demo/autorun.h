// Autorun: drives every panel from code, step by step, saves a screenshot of the window and prints
// a summary (the headless mode used by scripts/demo and by the demo's tests). Every step waits for
// a condition with a deadline, never for a share of the clock, so that the outcome does not depend
// on the machine's speed or load. GUI thread only.
#pragma once

#include <QCoroTask>
#include <QString>

class Demo;

struct AutorunReport
{
    bool mapOk = false;
    bool fractalOk = false;
    bool swarmOk = false;
    bool workerOk = false;
    bool pipelineOk = false;
    bool screenshotOk = false;
    QString text;

    bool ok() const { return mapOk && fractalOk && swarmOk && workerOk && pipelineOk && screenshotOk; }
};

//! The share of the worker's job after which the autorun cancels it.
inline constexpr double cancelAtProgress = 0.4;

//! Runs every step, keeps the demo on show until at least `seconds` have passed, then grabs the
//! window into screenshotPath (if not empty). demo and screenshotPath must outlive the task.
QCoro::Task<AutorunReport> autorun(Demo &demo, double seconds, const QString &screenshotPath);

//! True when the image has at least two different pixels.
bool isNotBlank(const QImage &image);
