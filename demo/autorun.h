// Autorun: drives every panel from code for a given time, saves a screenshot of the window and
// prints a summary (the headless mode used by scripts/demo). GUI thread only.
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
    bool screenshotOk = false;
    QString text;

    bool ok() const { return mapOk && fractalOk && swarmOk && workerOk && screenshotOk; }
};

//! Runs for about seconds, then grabs the window into screenshotPath (if not empty). demo and
//! screenshotPath must outlive the task.
QCoro::Task<AutorunReport> autorun(Demo &demo, double seconds, const QString &screenshotPath);

//! True when the image has at least two different pixels.
bool isNotBlank(const QImage &image);
