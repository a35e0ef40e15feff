import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtActorsDemo

// 4. One actor on its own QThread doing a long CPU job, a chunk per message, with a cancel button.
Panel {
    id: panel

    required property WorkerFacade worker

    readonly property var english: Qt.locale("en_US")
    function count(n) { return Number(n).toLocaleString(english, 'f', 0) }

    title: qsTr("4 · Dedicated worker")
    // counts primes by trial division: a long CPU job, cut into chunks
    subtitle: qsTr("Executor::dedicatedThread(): an actor with its own QThread")

    ColumnLayout {
        anchors.fill: parent
        spacing: 10

        RowLayout {
            spacing: 18
            Stat {
                caption: qsTr("status")
                value: panel.worker.status
                valueColor: panel.worker.status === "canceled" ? "#ffa657"
                            : panel.worker.status === "finished" ? "#7ee787" : "#e6edf3"
            }
            Stat {
                caption: qsTr("primes found below %1").arg(panel.count(panel.worker.limit))
                value: panel.count(panel.worker.primesFound)
            }
            Stat {
                caption: qsTr("chunks (messages)")
                value: panel.count(panel.worker.chunksDone)
            }
            Stat {
                caption: qsTr("elapsed")
                value: qsTr("%1 s").arg((panel.worker.elapsedMs / 1000).toFixed(1))
            }
        }
        ProgressBar {
            objectName: "workerProgress"
            value: panel.worker.progress
            Layout.fillWidth: true
        }
        Label {
            text: qsTr("%1% · handlers run on: %2")
                  .arg((panel.worker.progress * 100).toFixed(1))
                  .arg(panel.worker.threadName || "—")
            color: "#c9d1d9"
        }
        RowLayout {
            spacing: 6
            Button {
                text: qsTr("Start")
                enabled: !panel.worker.running
                onClicked: panel.worker.start()
            }
            Button {
                text: qsTr("Cancel")
                enabled: panel.worker.running
                onClicked: panel.worker.cancel()
            }
        }
        Label {
            text: qsTr("Each cell is one chunk of %1 numbers, one call to the worker; "
                       + "cancel sets a flag the running chunk polls.")
                  .arg(panel.count(100000))
            color: "#8b98a9"
            wrapMode: Text.WordWrap
            Layout.fillWidth: true
        }
        Grid {
            id: chunkGrid
            objectName: "chunkGrid"
            columns: 25
            spacing: 3
            Layout.fillWidth: true
            Layout.fillHeight: true
            Repeater {
                model: panel.worker.chunkCount
                Rectangle {
                    required property int index
                    width: (chunkGrid.width - (chunkGrid.columns - 1) * chunkGrid.spacing)
                           / chunkGrid.columns
                    height: 10
                    radius: 2
                    color: index < panel.worker.chunksDone ? "#3d8bfd"
                         : index > panel.worker.chunksDone ? "#222a36"
                         : panel.worker.running ? "#e3b341"
                         : panel.worker.status === "canceled" ? "#ffa657" : "#222a36"
                }
            }
        }
    }
}
