import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtActorsDemo

// 1. The seed's shared map: each button is an actor call made from QML, answered through .then().
Panel {
    id: panel

    required property SharedMapFacade map
    //! The answer to the last insert()/get() made from this panel.
    property var lastResult: null

    title: qsTr("1 · Shared map")
    subtitle: qsTr("Q_INVOKABLE → QCoro::QmlTask → actor call; QML never blocks")

    function insert(key, value) {
        panel.map.insert(key, value).then(function (result) { panel.lastResult = result })
    }
    function get(key) {
        panel.map.get(key).then(function (result) { panel.lastResult = result })
    }
    function describe(r) {
        if (!r.ok)
            return qsTr("error: %1").arg(r.error)
        if (r.op === "insert")
            return qsTr("insert %1 = %2   (was %3, size %4)   on %5")
                .arg(r.key).arg(r.value).arg(r.previous === undefined ? "—" : r.previous)
                .arg(r.size).arg(r.thread)
        return qsTr("get %1 → %2   on %3")
            .arg(r.key).arg(r.found ? r.value : qsTr("not found")).arg(r.thread)
    }

    Connections {
        target: panel.map
        function onFinished(result) {
            log.insert(0, { line: panel.describe(result), good: result.ok })
            if (log.count > 100)
                log.remove(100)
        }
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        RowLayout {
            spacing: 6
            TextField {
                id: keyField
                objectName: "keyField"
                placeholderText: qsTr("key")
                text: "answer"
                Layout.fillWidth: true
            }
            TextField {
                id: valueField
                objectName: "valueField"
                placeholderText: qsTr("value")
                text: "42"
                Layout.fillWidth: true
            }
            Button {
                text: qsTr("Insert")
                onClicked: panel.insert(keyField.text, valueField.text)
            }
            Button {
                text: qsTr("Get")
                onClicked: panel.get(keyField.text)
            }
        }
        Label {
            text: panel.lastResult ? panel.describe(panel.lastResult)
                                   : qsTr("Insert a value, then get it back.")
            color: "#c9d1d9"
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        Rectangle {
            color: "#0c0f14"
            radius: 4
            Layout.fillWidth: true
            Layout.fillHeight: true
            ListView {
                anchors.fill: parent
                anchors.margins: 6
                clip: true
                model: ListModel { id: log }
                delegate: Label {
                    required property string line
                    required property bool good
                    width: ListView.view.width
                    text: line
                    elide: Text.ElideRight
                    font.family: "monospace"
                    font.pixelSize: 12
                    color: good ? "#a5d6ff" : "#ff7b72"
                }
            }
        }
        Label {
            text: qsTr("%1 calls answered · the map lives in one pool actor named \"shared-map\"")
                  .arg(panel.map.messagesHandled)
            color: "#8b98a9"
            font.pixelSize: 11
        }
    }
}
